"""Where a worker process builds its long-lived resources, in one place (the worker's ``wiring.py``).

Each worker process builds them at its start-up (``worker_process_init``) and closes them at its
shutdown (``worker_process_shutdown``), hooks the ``samaconso worker`` command installs
(:func:`install_process_hooks`): the database pools, Redis, S3, the legacy gateway with its
breakers, the push sender (FCM HTTP/2 channel and OAuth token, or the embedded file sink). Tasks
read them through :func:`resources`; no task module keeps a resource of its own.

``samaconso/worker.py`` (the Celery app, queues, routes, schedule) sits below the domains; this
module sits above them (it builds the notifications domain's push sender); the task modules import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from celery.signals import worker_process_init, worker_process_shutdown

from samaconso.kit.aio import run_sync
from samaconso.kit.cache import Cache, make_redis
from samaconso.kit.db import Database
from samaconso.kit.storage import Storage
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
    cache: Cache
    storage: Storage
    legacy: LegacyGateway
    pusher: Pusher  # FCM HTTP/2 channel and its OAuth token (or the embedded file sink)

    async def aclose(self) -> None:
        await self.pusher.aclose()
        await self.legacy.dispose()
        await self.aggregate_db.dispose()
        await self.db.dispose()
        await self.cache.redis.aclose()


def build_resources(settings: Settings) -> WorkerResources:
    redis = make_redis(settings.redis_url, settings.redis_timeout_s)
    cache = Cache(redis)
    slow = settings.model_copy(update={"database_statement_timeout_ms": AGGREGATE_STATEMENT_TIMEOUT_MS})
    return WorkerResources(
        settings=settings,
        db=Database(settings),
        aggregate_db=Database(slow),
        cache=cache,
        storage=Storage(settings),
        legacy=LegacyGateway.from_settings(settings, cache),
        pusher=make_pusher(settings),
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


def install_process_hooks() -> None:
    """Called by ``samaconso worker`` before Celery starts (importing this module connects nothing):
    each worker process builds its resources when it starts and closes them when it stops."""
    worker_process_init.connect(_start_resources, weak=False)
    worker_process_shutdown.connect(_close_resources, weak=False)
