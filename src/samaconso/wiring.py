"""Where the API process builds its long-lived resources, in one place (polar's ``lifespan`` idea).

``create_app``'s lifespan calls :func:`api_resources`: it builds the database, Redis (cache, rate
limits), S3 storage, the legacy gateway (with its caching and breakers), the vending client, the
directory (LDAP breaker), the realtime hub and the after-commit outbox publisher, hands them to the
app (``app.state``, read by the typed dependencies: ``kit/deps.py``, ``legacy/deps.py``,
``tariffs/deps.py``…) and closes them in reverse order at shutdown. No module registers anything
when it is imported; a second app in the same process (tests) gets resources of its own.

The worker builds its own per process (``worker.resources``), the CLI per command.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

import structlog
from redis.asyncio import Redis

from samaconso.identity.ldap import Directory
from samaconso.kit.cache import Cache, redis_client
from samaconso.kit.db import Database
from samaconso.kit.freshness import ResponseCache
from samaconso.kit.ratelimit import EVICTING_POLICIES, RateLimiter
from samaconso.kit.storage import Storage
from samaconso.legacy.gateway import LegacyGateway
from samaconso.notifications.outbox_publisher import AfterCommitPublisher
from samaconso.notifications.realtime import RealtimeHub, queue_metrics_refresher
from samaconso.settings import Settings
from samaconso.system.health import DetailProvider
from samaconso.tariffs.vending import VendingGateway
from samaconso.tariffs.xmlvend import certificate_status, health_details
from samaconso.worker import celery_app

log = structlog.get_logger(__name__)

MetricRefresher = Callable[[], Awaitable[None]]


@dataclass
class ApiResources:
    settings: Settings
    db: Database
    read_db: Database  # = db when no replica is configured
    redis: Redis
    cache: Cache
    response_cache: ResponseCache
    rate_limiter: RateLimiter
    storage: Storage
    legacy: LegacyGateway
    vending: VendingGateway
    directory: Directory
    realtime: RealtimeHub
    outbox_publisher: AfterCommitPublisher
    metric_refreshers: list[MetricRefresher] = field(default_factory=list)
    readiness_details: list[DetailProvider] = field(default_factory=list)


def _certificate_metric(settings: Settings) -> MetricRefresher:
    async def refresh_certificate_metric() -> None:
        if settings.xmlvend_client_p12 is not None:
            await asyncio.to_thread(certificate_status, settings)

    return refresh_certificate_metric


@asynccontextmanager
async def api_resources(settings: Settings) -> AsyncIterator[ApiResources]:
    async with AsyncExitStack() as stack:
        db = Database(settings)
        stack.push_async_callback(db.dispose)
        read_db = db
        if settings.database_read_url:  # a streaming replica: heavy pure reads only (kit/deps.py)
            read_db = Database(settings, url=settings.database_read_url)
            stack.push_async_callback(read_db.dispose)
        redis = redis_client(settings)  # redis_url, or the master the sentinels name
        stack.push_async_callback(redis.aclose)
        cache = Cache(redis)
        response_cache = ResponseCache(redis, settings.response_cache_ttl_s)
        response_cache.attach(db)
        stack.push_async_callback(response_cache.aclose)
        rate_limiter = RateLimiter(redis)
        policy = await rate_limiter.eviction_policy()
        if policy in EVICTING_POLICIES:
            log.warning(
                "deployment_warning",
                warning=f"Redis maxmemory-policy={policy}: rate-limit counters may be evicted (use noeviction)",
            )
        storage = Storage(settings)
        try:
            await storage.ensure_buckets()
        except Exception as exc:  # S3 down at start: readiness reports it, the API still serves
            log.warning("s3_buckets_not_ensured", error=type(exc).__name__)
        legacy = LegacyGateway.from_settings(settings, cache)
        stack.push_async_callback(legacy.dispose)
        vending = VendingGateway()
        stack.push_async_callback(vending.aclose)
        hub = RealtimeHub(
            settings.redis_url, settings.redis_timeout_s, client=redis_client(settings, pubsub=True)
        )
        await hub.start()
        stack.push_async_callback(hub.stop)
        publisher = AfterCommitPublisher(db, celery_app)
        publisher.attach()
        stack.push_async_callback(publisher.aclose)
        yield ApiResources(
            settings=settings,
            db=db,
            read_db=read_db,
            redis=redis,
            cache=cache,
            response_cache=response_cache,
            rate_limiter=rate_limiter,
            storage=storage,
            legacy=legacy,
            vending=vending,
            directory=Directory(settings),
            realtime=hub,
            outbox_publisher=publisher,
            metric_refreshers=[queue_metrics_refresher(settings, db), _certificate_metric(settings)],
            readiness_details=[health_details],
        )
