"""Celery entry points of the meters domain (thin: they call the service)."""

from __future__ import annotations

from samaconso.kit.aio import run_sync
from samaconso.meters import sharing
from samaconso.notifications.service import notify_user
from samaconso.worker import celery_app
from samaconso.worker_wiring import resources


@celery_app.task(name="samaconso.meters.tasks.housekeeping_expire_access_requests")
def housekeeping_expire_access_requests() -> int:
    """Periodic sweep (low_priority): requests to an owner not on the app expire after 30 days."""
    res = resources()
    return run_sync(sharing.expire_absent_owner_requests(res.db, notify=notify_user))
