"""Celery entry points of the tariffs domain (thin: they call the service)."""

from __future__ import annotations

from samaconso.kit.aio import run_sync
from samaconso.tariffs import service
from samaconso.worker import celery_app
from samaconso.worker_wiring import resources


@celery_app.task(name="samaconso.tariffs.tasks.housekeeping_tranche_alerts")
def housekeeping_tranche_alerts() -> int:
    """Periodic scan (low_priority): monthly tranche-1 alert for prepaid meters at ≥ 80 %."""
    res = resources()

    return run_sync(service.scan_tranche_alerts(res.db, res.legacy))
