"""The tariffs domain's service, as the router and the tasks see it. The rules live in rooms of one
job each: ``grid.py`` (versions, bands, tranche status), ``simulator.py`` (Woyofal simulator and
postpaid estimate), ``alerts.py`` (monthly tranche alerts), ``vending.py`` (the XMLVend client's
lifecycle, next to ``xmlvend.py``); ``engine.py`` is the pure bill engine. No FastAPI here.
"""

from __future__ import annotations

from samaconso.tariffs.alerts import scan_tranche_alerts
from samaconso.tariffs.grid import (
    TrancheStatus,
    add_version,
    list_bands,
    list_versions,
    today_utc,
    tranche_status,
)
from samaconso.tariffs.simulator import estimate_postpaid, simulate_prepaid
from samaconso.tariffs.vending import VendingGateway

__all__ = [
    "TrancheStatus",
    "VendingGateway",
    "add_version",
    "estimate_postpaid",
    "list_bands",
    "list_versions",
    "scan_tranche_alerts",
    "simulate_prepaid",
    "today_utc",
    "tranche_status",
]
