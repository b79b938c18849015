"""Redis JSON cache with TTL. Fail-open: when Redis misbehaves the loader is called and a warning logged."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import structlog
from redis.asyncio import Redis
from redis.asyncio.sentinel import Sentinel
from redis.exceptions import RedisError

from samaconso.kit.metrics import CACHE_EVENTS
from samaconso.settings import Settings

log = structlog.get_logger(__name__)
T = TypeVar("T")


def make_redis(url: str, timeout_s: float) -> Redis:
    return Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        health_check_interval=30,
        decode_responses=False,
    )


def sentinel_addresses(raw: str) -> list[tuple[str, int]]:
    """``"h1:26379,h2:26379"`` → ``[("h1", 26379), ("h2", 26379)]`` (port 26379 when omitted)."""
    out = []
    for item in raw.split(","):
        host, _, port = item.strip().rpartition(":") if ":" in item else (item.strip(), "", "26379")
        if not host:
            raise ValueError(f"sentinel address without a host: {item!r}")
        out.append((host.strip("[]"), int(port)))
    return out


def redis_client(settings: Settings, *, url: str | None = None, pubsub: bool = False) -> Redis:
    """The Redis client of the deployment: the master the sentinels name (when
    ``redis_sentinels`` is set, re-asked after a failover) or ``redis_url`` directly.
    ``pubsub``: a connection kept open for a subscriber (no read timeout)."""
    target = urlsplit(url or settings.redis_url)
    timeout = settings.redis_timeout_s
    if not settings.redis_sentinels:
        if pubsub:
            return Redis.from_url(
                url or settings.redis_url, socket_connect_timeout=timeout, health_check_interval=30
            )
        return make_redis(url or settings.redis_url, timeout)
    password = unquote(target.password) if target.password else None
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        sentinel_addresses(settings.redis_sentinels),
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        sentinel_kwargs={
            "password": password,
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
        },
    )
    db = int(target.path.lstrip("/") or 0)
    client: Redis = sentinel.master_for(
        settings.redis_sentinel_master,
        redis_class=Redis,
        db=db,
        password=password,
        username=unquote(target.username) if target.username else None,
        socket_timeout=None if pubsub else timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
        decode_responses=False,
    )
    return client


def celery_result_backend(settings: Settings) -> tuple[str, dict[str, Any]]:
    """Celery's result backend URL and transport options: ``sentinel://`` (one address per
    sentinel, with the password and db of ``result_backend`` / ``redis_url``) when sentinels are set."""
    url = settings.result_backend or settings.redis_url
    if not settings.redis_sentinels:
        return url, {}
    target = urlsplit(url)
    auth = f":{target.password}@" if target.password else ""
    db = target.path.lstrip("/") or "0"
    joined = ";".join(
        f"sentinel://{auth}{h}:{p}/{db}" for h, p in sentinel_addresses(settings.redis_sentinels)
    )
    options: dict[str, Any] = {"master_name": settings.redis_sentinel_master}
    if target.password:
        options["sentinel_kwargs"] = {"password": unquote(target.password)}
    return joined, options


class Cache:
    def __init__(self, redis: Redis, prefix: str = "cache:") -> None:
        self.redis = redis
        self.prefix = prefix

    async def get(self, key: str) -> Any | None:
        try:
            raw = await self.redis.get(self.prefix + key)
        except (RedisError, OSError) as exc:
            CACHE_EVENTS.labels("error").inc()
            log.warning("cache_unavailable", op="get", key=key, error=type(exc).__name__)
            return None
        if raw is None:
            CACHE_EVENTS.labels("miss").inc()
            return None
        CACHE_EVENTS.labels("hit").inc()
        return json.loads(raw)

    async def set(self, key: str, value: Any, ttl_s: int) -> None:
        try:
            await self.redis.set(self.prefix + key, json.dumps(value, default=str), ex=ttl_s)
        except (RedisError, OSError) as exc:
            CACHE_EVENTS.labels("error").inc()
            log.warning("cache_unavailable", op="set", key=key, error=type(exc).__name__)

    async def delete(self, *keys: str) -> None:
        if not keys:
            return
        try:
            await self.redis.delete(*(self.prefix + k for k in keys))
        except (RedisError, OSError) as exc:
            log.warning("cache_unavailable", op="delete", error=type(exc).__name__)

    async def get_or_load(self, key: str, ttl_s: int, loader: Callable[[], Awaitable[T]]) -> T:
        """Return the cached JSON value of ``key`` or call ``loader`` and cache its (JSON-able) result."""
        cached = await self.get(key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        value = await loader()
        await self.set(key, value, ttl_s)
        return value
