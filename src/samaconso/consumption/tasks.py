"""Celery entry points of the consumption domain (thin: they call the service)."""

from __future__ import annotations

from samaconso.consumption import alerts
from samaconso.kit.aio import run_sync
from samaconso.worker import celery_app
from samaconso.worker_wiring import resources


@celery_app.task(name="samaconso.consumption.tasks.housekeeping_consumption_alerts")
def housekeeping_consumption_alerts() -> int:
    """Periodic scan (low_priority): the customers' monthly kWh / FCFA thresholds, once a month."""
    res = resources()

    return run_sync(alerts.scan_alerts(res.db, res.legacy))
