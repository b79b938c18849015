"""Celery entry points of the files domain (routed to ``low_priority``)."""

from __future__ import annotations

from samaconso.files import service
from samaconso.kit.aio import run_sync
from samaconso.worker import celery_app
from samaconso.worker_wiring import resources


@celery_app.task(name="samaconso.files.tasks.purge_unattached")
def purge_unattached() -> int:
    """Remove documents uploaded more than 24 h ago and never attached to a request."""
    res = resources()
    return run_sync(service.purge_unattached(res.db, res.storage))
