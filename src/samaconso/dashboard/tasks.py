"""Celery entry points of the dashboard domain (``housekeeping*`` tasks go to ``low_priority``)."""

from __future__ import annotations

from samaconso.dashboard import service
from samaconso.kit.aio import run_sync
from samaconso.worker import celery_app
from samaconso.worker_wiring import resources


@celery_app.task(name="samaconso.dashboard.tasks.housekeeping_refresh")
def housekeeping_refresh() -> bool:
    """Recompute the rolled-up dashboard figures of every agency and the nation (aggregate reads on
    the read replica when configured, lock and writes on the primary)."""
    worker = resources()
    return run_sync(service.refresh_rollups(worker.aggregate_db, worker.aggregate_read_db))
