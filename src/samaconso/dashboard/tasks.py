"""Celery entry points of the dashboard domain (``housekeeping*`` tasks go to ``low_priority``)."""

from __future__ import annotations

from functools import lru_cache

from samaconso.dashboard import service
from samaconso.kit.aio import run_sync
from samaconso.kit.db import Database
from samaconso.worker import celery_app, resources

# The national aggregates take seconds, more than the API's per-statement timeout allows.
REFRESH_STATEMENT_TIMEOUT_MS = 300_000


@lru_cache(maxsize=1)
def _aggregate_db() -> Database:
    settings = resources().settings.model_copy(
        update={"database_statement_timeout_ms": REFRESH_STATEMENT_TIMEOUT_MS}
    )
    return Database(settings)


@celery_app.task(name="samaconso.dashboard.tasks.housekeeping_refresh")
def housekeeping_refresh() -> bool:
    """Recompute the rolled-up dashboard figures of every agency and the nation."""
    return run_sync(service.refresh_rollups(_aggregate_db()))
