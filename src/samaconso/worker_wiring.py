"""Where a worker process builds its long-lived resources, in one place (the worker's ``wiring.py``).

Each worker process builds them at its start-up (``worker_process_init``) and closes them at its
shutdown (``worker_process_shutdown``), hooks the ``samaconso worker`` command installs
(:func:`install_process_hooks`): the database pools (primary, and the read replica when configured), Redis, S3, the legacy gateway with its
breakers, the push sender (FCM HTTP/2 channel and OAuth token, or the embedded file sink). Tasks
read them through :func:`resources`; no task module keeps a resource of its own.

``samaconso/worker.py`` (the Celery app, queues, routes, schedule) sits below the domains; this
module sits above them (it builds the notifications domain's push sender); the task modules import it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from celery.signals import worker_init, worker_process_init, worker_process_shutdown, worker_shutdown

from samaconso.kit.aio import run_sync
from samaconso.kit.cache import Cache, redis_client
from samaconso.kit.db import Database
from samaconso.kit.freshness import ResponseCache
from samaconso.kit.storage import Storage
from samaconso.kit.worker_metrics import MetricsEndpoint, forget_process
from samaconso.legacy.gateway import LegacyGateway
from samaconso.notifications.pipeline import Pusher, make_pusher
from samaconso.settings import Settings, get_settings
from samaconso.worker import configure_worker_logs

# The dashboard's national aggregates take seconds, more than the API's per-statement timeout allows.
AGGREGATE_STATEMENT_TIMEOUT_MS = 300_000


@dataclass
class WorkerResources:
    """Every long-lived resource a worker process's tasks use, built once at its start-up
    (``worker_process_init``) and closed at its shutdown; the breakers live in these objects."""

    settings: Settings
    db: Database
    aggregate_db: Database  # same database, longer statement timeout (dashboard rollups)
    # the read engine with that timeout: the replica (SAMACONSO_DATABASE_READ_URL), else aggregate_db
    aggregate_read_db: Database
    cache: Cache
    storage: Storage
    legacy: LegacyGateway
    pusher: Pusher  # FCM HTTP/2 channel and its OAuth token (or the embedded file sink)
    response_cache: ResponseCache  # its tasks' commits (new notifications…) bump the API's cache

    async def aclose(self) -> None:
        await self.pusher.aclose()
        await self.response_cache.aclose()
        await self.legacy.dispose()
        if self.aggregate_read_db is not self.aggregate_db:
            await self.aggregate_read_db.dispose()
        await self.aggregate_db.dispose()
        await self.db.dispose()
        await self.cache.redis.aclose()


def build_resources(settings: Settings) -> WorkerResources:
    redis = redis_client(settings)  # redis_url, or the master the sentinels name
    cache = Cache(redis)
    slow = settings.model_copy(update={"database_statement_timeout_ms": AGGREGATE_STATEMENT_TIMEOUT_MS})
    db = Database(settings)
    response_cache = ResponseCache(redis, settings.response_cache_ttl_s)
    response_cache.attach(db)
    aggregate_db = Database(slow)
    aggregate_read_db = aggregate_db
    if settings.database_read_url:  # a streaming replica: the dashboard's aggregate reads
        aggregate_read_db = Database(slow, url=settings.database_read_url)
    return WorkerResources(
        settings=settings,
        db=db,
        aggregate_db=aggregate_db,
        aggregate_read_db=aggregate_read_db,
        cache=cache,
        storage=Storage(settings),
        legacy=LegacyGateway.from_settings(settings, cache),
        pusher=make_pusher(settings),
        response_cache=response_cache,
    )


_process: list[WorkerResources] = []  # this process's resources (one entry once started)


def _start_resources(**_: Any) -> None:
    """Worker start-up: build this process's resources before it takes its first task."""
    settings = get_settings()
    configure_worker_logs(settings)
    _process[:] = [build_resources(settings)]


def resources() -> WorkerResources:
    """The resources built at this worker process's start-up. A process that runs tasks without a
    worker start-up (eager mode, ``samaconso`` commands, tests) builds them on first use."""
    if not _process:
        _start_resources()
    return _process[0]


def _close_resources(**_: Any) -> None:
    if _process:
        run_sync(_process.pop().aclose())
    forget_process(os.getpid())


_metrics_endpoint: list[MetricsEndpoint] = []  # the worker's main process: its Prometheus endpoint


def _start_metrics_endpoint(**_: Any) -> None:
    """The worker's main process serves the sum of its pool processes' metrics (when a port is set;
    ``samaconso worker`` prepared the multiprocess directory before anything imported the metrics)."""
    settings = get_settings()
    if settings.worker_metrics_port is not None and not _metrics_endpoint:
        _metrics_endpoint.append(MetricsEndpoint(settings).start())


def _stop_metrics_endpoint(**_: Any) -> None:
    if _metrics_endpoint:
        _metrics_endpoint.pop().stop()


def install_process_hooks() -> None:
    """Called by ``samaconso worker`` before Celery starts (importing this module connects nothing):
    each worker process builds its resources when it starts and closes them when it stops; the main
    process serves the pool's metrics (``SAMACONSO_WORKER_METRICS_PORT``)."""
    worker_process_init.connect(_start_resources, weak=False)
    worker_process_shutdown.connect(_close_resources, weak=False)
    worker_init.connect(_start_metrics_endpoint, weak=False)
    worker_shutdown.connect(_stop_metrics_endpoint, weak=False)
