"""Month-to-date from the legacy vending records (simulated SQL Server schema), used by the simulator
and by the monthly tranche-1 alert (one notification per meter, user and month)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from samaconso.kit.db import Database
from samaconso.legacy.deps import gateway_of
from samaconso.legacy.simulated import asyncpg_dsn
from samaconso.meters.models import LinkStatus, Meter
from samaconso.settings import Settings
from samaconso.tariffs import service
from tests.support.legacy import LegacySource
from tests.support.users import make_user
from tests.tariffs.helpers import make_meter

SIM = "/api/v1/simulator/prepaid"


async def add_purchase(
    source: LegacySource, meter: Meter, kwh: str, when: datetime, amount: str = "5000"
) -> None:
    """One Woyofal sale in the legacy vending table (HEXING_SENELECBILL_ALHDL2)."""
    conn = await asyncpg.connect(asyncpg_dsn(source.url), timeout=5)
    try:
        await conn.execute(
            'INSERT INTO sic."HEXING_SENELECBILL_ALHDL2" ("NUMERO_COMMANDE", "NUMERO_COMPTEUR", "POLICE", '
            '"TARIF_USAGE", "DATE_TRANSACTION", "MONTANT_TTC", "MONTANT_RECU", "ENERGIE_VENDUE", "TOKEN") '
            "VALUES ($1, $2, $3, 'DPP', $4, $5, $5, $6, '12345678901234567890')",
            f"T{meter.number}{when:%d%H%M%S}",
            meter.number,
            meter.poc,
            when.replace(tzinfo=None),
            Decimal(amount),
            Decimal(kwh),
        )
    finally:
        await conn.close()


def this_month(day: int = 1) -> datetime:
    now = datetime.now(UTC)
    return now.replace(day=min(day, now.day), hour=8, minute=0, second=0, microsecond=0)


async def test_simulator_uses_the_months_purchases_from_legacy(
    client: AsyncClient, grids: Database, settings: Settings, legacy_source: LegacySource
) -> None:
    user = await make_user(grids, settings)
    meter = await make_meter(grids, users={user.id: LinkStatus.active})
    await add_purchase(legacy_source, meter, "100", this_month(1))
    await add_purchase(legacy_source, meter, "40", this_month(1) - timedelta(days=40))  # an earlier month
    r = await client.post(SIM, json={"amount": 5000, "meter_id": str(meter.id)}, headers=user.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["month_to_date_known"] is True
    assert body["month_to_date_kwh"] == 100
    assert body["fee_already_paid"] is True
    assert body["monthly_fee"] == 0
    # 50 kWh left in tranche 1, then tranche 2
    assert next((t["tranche"], t["kwh"]) for t in body["tranches"]) == (1, 50)
    assert body["tranches"][1]["tranche"] == 2
    assert body["advice"]["kwh_left_in_current_tranche"] == 50


@pytest.mark.settings(legacy_simulated_url="postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
async def test_simulator_says_when_the_month_is_unknown(
    client: AsyncClient, grids: Database, settings: Settings
) -> None:
    user = await make_user(grids, settings)
    meter = await make_meter(grids, users={user.id: LinkStatus.active})
    r = await client.post(SIM, json={"amount": 5000, "meter_id": str(meter.id)}, headers=user.headers)
    assert r.status_code == 200
    body = r.json()
    assert body["month_to_date_known"] is False
    assert body["month_to_date_kwh"] == 0
    assert body["monthly_fee"] == 429  # assumed first purchase of the month


async def feed(client: AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    r = await client.get("/api/v1/me/notifications", headers=headers)
    assert r.status_code == 200, r.text
    return [n for n in r.json()["items"] if n["type"] == "tranche_alert"]


async def test_tranche_alert_once_a_month_at_80_percent_of_tranche_1(
    app: FastAPI, client: AsyncClient, grids: Database, settings: Settings, legacy_source: LegacySource
) -> None:
    owner = await make_user(grids, settings)
    shared = await make_user(grids, settings)
    pending = await make_user(grids, settings)
    meter = await make_meter(
        grids,
        users={owner.id: LinkStatus.active, shared.id: LinkStatus.active, pending.id: LinkStatus.pending},
    )
    calm = await make_meter(grids, users={owner.id: LinkStatus.active})
    await add_purchase(legacy_source, calm, "60", this_month(1))
    await add_purchase(legacy_source, meter, "100", this_month(1))
    legacy = gateway_of(app)
    today = datetime.now(UTC).date()

    assert await service.scan_tranche_alerts(grids, legacy, today) == 0  # 100 kWh < 120
    assert await feed(client, owner.headers) == []

    await add_purchase(legacy_source, meter, "25", this_month(2) + timedelta(hours=1))  # 125 kWh: 83 %
    await app.state.redis.flushdb()  # the 5-minute purchase cache expires
    assert await service.scan_tranche_alerts(grids, legacy, today) == 2  # both active users
    alerts = await feed(client, owner.headers)
    assert len(alerts) == 1
    assert "25 kWh" in alerts[0]["body"]
    assert alerts[0]["data"]["meter_id"] == str(meter.id)
    assert alerts[0]["data"]["kwh_left"] == "25"
    assert len(await feed(client, shared.headers)) == 1
    assert await feed(client, pending.headers) == []  # a pending link gets nothing
    english = await client.get("/api/v1/me/notifications", headers={**owner.headers, "Accept-Language": "en"})
    assert "at the social price" in english.json()["items"][0]["body"]

    # more purchases the same month: still one alert
    await add_purchase(legacy_source, meter, "10", this_month(2) + timedelta(hours=2))
    await app.state.redis.flushdb()
    assert await service.scan_tranche_alerts(grids, legacy, today) == 0
    assert len(await feed(client, owner.headers)) == 1

    # next month the tranches reset: a new month gets its own alert when it gets there again
    next_month = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    await add_purchase(
        legacy_source,
        meter,
        "130",
        datetime.combine(next_month, datetime.min.time(), UTC) + timedelta(hours=9),
    )
    await app.state.redis.flushdb()
    assert await service.scan_tranche_alerts(grids, legacy, next_month) == 2
    assert len(await feed(client, owner.headers)) == 2


async def test_no_alert_once_tranche_1_is_already_used_up(
    app: FastAPI, client: AsyncClient, grids: Database, settings: Settings, legacy_source: LegacySource
) -> None:
    user = await make_user(grids, settings)
    meter = await make_meter(grids, users={user.id: LinkStatus.active})
    await add_purchase(legacy_source, meter, "180", this_month(1))
    assert await service.scan_tranche_alerts(grids, gateway_of(app), date.today()) == 0
    assert await feed(client, user.headers) == []
