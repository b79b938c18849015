"""Purchases, bills, contract, monthly totals and the home summary, compared with the legacy rows."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import update

from samaconso.consumption.service import month_to_date
from samaconso.kit.db import Database
from samaconso.legacy import generator as g
from samaconso.legacy.deps import gateway_of
from samaconso.legacy.tariff import tranche_status
from samaconso.meters.models import Meter
from samaconso.settings import Settings
from samaconso.tariffs.seed import seed as seed_tariffs
from tests.support.legacy import LegacySource
from tests.support.users import TestUser, make_user

PURCHASES_SQL = 'SELECT * FROM sic."HEXING_SENELECBILL_ALHDL2" WHERE "NUMERO_COMPTEUR" = $1 ORDER BY "DATE_TRANSACTION" DESC'
BILLS_SQL = 'SELECT * FROM histh2mc."Historique" WHERE "numCC" = $1 ORDER BY "DATFACT" DESC'


async def _demo_meters(client: AsyncClient, db: Database, settings: Settings) -> tuple[TestUser, str, str]:
    awa = await make_user(db, settings, phone=g.DEMO_PHONE)
    prepaid = await client.post(
        "/api/v1/me/meters", json={"kind": "prepaid", "number": g.DEMO_PREPAID_METER}, headers=awa.headers
    )
    postpaid = await client.post(
        "/api/v1/me/meters",
        json={"kind": "postpaid", "number": g.DEMO_POSTPAID_CONTRACT},
        headers=awa.headers,
    )
    assert prepaid.status_code == 201, prepaid.text
    assert postpaid.status_code == 201, postpaid.text
    return awa, prepaid.json()["id"], postpaid.json()["id"]


def _paid(row: dict[str, Any]) -> float:
    return float(row["MONTANT_RECU"] if row["MONTANT_RECU"] is not None else row["MONTANT_TTC"])


async def test_purchases_newest_first_paginated_and_matching_legacy(
    client: AsyncClient, db: Database, settings: Settings, legacy_source: LegacySource
) -> None:
    awa, prepaid_id, _ = await _demo_meters(client, db, settings)
    rows = await legacy_source.fetch(PURCHASES_SQL, g.DEMO_PREPAID_METER)
    assert len(rows) >= 6

    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        url = f"/api/v1/me/meters/{prepaid_id}/purchases?limit=4" + (f"&cursor={cursor}" if cursor else "")
        r = await client.get(url, headers=awa.headers)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= 4
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [p["order_number"] for p in seen] == [r["NUMERO_COMMANDE"] for r in rows]
    dates = [p["date"] for p in seen]
    assert dates == sorted(dates, reverse=True)

    newest, row = seen[0], rows[0]
    assert newest["amount"] == _paid(row)
    assert newest["kwh"] == float(row["ENERGIE_VENDUE"])
    assert round(sum(t["kwh"] for t in newest["tranches"]), 2) == newest["kwh"]
    assert [t["tranche"] for t in newest["tranches"]] == [1, 2, 3]
    assert newest["tranches"][0]["unit_price"] == float(row["PRIX1"])
    assert newest["vat"] == float(row["MONTANT_TVA"])
    assert newest["municipal_tax"] == float(row["MONTANT_TCO"])
    assert newest["debt_remaining"] == float(row["SOLDE_DETTE"])
    assert newest["channel"] == row["NOM_AGENCE_ENCAISSEMENT"]
    assert 1 <= len(newest["tokens"]) <= 3
    assert all(len(tok) == 20 and tok.isdigit() for tok in newest["tokens"])
    assert newest["date"].endswith(("Z", "+00:00"))

    # a period: this month only holds the scenario's two purchases
    today = datetime.now(UTC).date()
    month = await client.get(
        f"/api/v1/me/meters/{prepaid_id}/purchases?from={today.replace(day=1)}&to={today}",
        headers=awa.headers,
    )
    assert month.status_code == 200
    assert len(month.json()["items"]) == 2
    # the first purchase of the month carries the 429 FCFA monthly fee, the second does not
    fees = sorted(p["monthly_fee"] for p in month.json()["items"])
    assert fees == [0.0, 429.0]

    bad = await client.get(
        f"/api/v1/me/meters/{prepaid_id}/purchases?from={today}&to={today - timedelta(days=3)}",
        headers=awa.headers,
    )
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_period"
    # not even the shape of a cursor: the field is named with what it takes (a forged one is a 400)
    garbage = await client.get(f"/api/v1/me/meters/{prepaid_id}/purchases?cursor=%%%", headers=awa.headers)
    assert garbage.status_code == 422
    assert [e["field"] for e in garbage.json()["errors"]] == ["cursor"]
    forged = await client.get(f"/api/v1/me/meters/{prepaid_id}/purchases?cursor=bm9wZQ", headers=awa.headers)
    assert (forged.status_code, forged.json()["code"]) == (400, "invalid_cursor")


async def test_purchases_are_cached_five_minutes(
    app: FastAPI, client: AsyncClient, db: Database, settings: Settings, legacy_source: LegacySource
) -> None:
    awa, prepaid_id, _ = await _demo_meters(client, db, settings)
    assert (
        await client.get(f"/api/v1/me/meters/{prepaid_id}/purchases", headers=awa.headers)
    ).status_code == 200
    keys = [k.decode() async for k in app.state.redis.scan_iter("cache:legacy:purchases:*")]
    assert len(keys) == 1
    assert 0 < await app.state.redis.ttl(keys[0]) <= 300
    customer_keys = [k async for k in app.state.redis.scan_iter("cache:legacy:meter:*")]
    assert len(customer_keys) == 2
    assert 300 < await app.state.redis.ttl(customer_keys[0]) <= 3600


async def test_bills_and_contract(
    client: AsyncClient, db: Database, settings: Settings, legacy_source: LegacySource
) -> None:
    awa, _, postpaid_id = await _demo_meters(client, db, settings)
    rows = await legacy_source.fetch(BILLS_SQL, g.DEMO_POSTPAID_CONTRACT)
    assert len(rows) >= 2
    r = await client.get(f"/api/v1/me/meters/{postpaid_id}/bills?limit=2", headers=awa.headers)
    assert r.status_code == 200, r.text
    page = r.json()
    assert [b["number"] for b in page["items"]] == [row["numFact"] for row in rows[:2]]
    first, row = page["items"][0], rows[0]
    assert first["date"] == row["DATFACT"].isoformat()
    assert first["due_date"] == row["DATEECH"].isoformat()
    assert first["kwh"] == float(row["BT_CONSTOT"])
    assert [t["kwh"] for t in first["tranches"]] == [float(row[f"BT_CONSOM{i}"]) for i in (1, 2, 3)]
    assert first["amount"] == float(row["BT_MONT_TTC"])
    assert first["days"] == row["NBJRS_"]
    rest = await client.get(
        f"/api/v1/me/meters/{postpaid_id}/bills?limit=100&cursor={page['next_cursor']}", headers=awa.headers
    )
    assert [b["number"] for b in rest.json()["items"]] == [row["numFact"] for row in rows[2:]]

    contract = await client.get(f"/api/v1/me/meters/{postpaid_id}/contract", headers=awa.headers)
    assert contract.status_code == 200
    assert contract.json() == {
        "contract_account": g.DEMO_POSTPAID_CONTRACT,
        "holder": "DIOP Awa",
        "address": rows[0]["ADD_LIV"],
        "partner": g.DEMO_PARTNER,
        "tariff": "DPP",
        "agency": "DAKAR CENTRE",
        "email": "awa.diop@example.sn",
    }


async def test_monthly_totals_match_legacy_sums(
    client: AsyncClient, db: Database, settings: Settings, legacy_source: LegacySource
) -> None:
    awa, prepaid_id, postpaid_id = await _demo_meters(client, db, settings)
    year = datetime.now(UTC).year
    r = await client.get(
        f"/api/v1/me/meters/{prepaid_id}/consumption/monthly?year={year}", headers=awa.headers
    )
    assert r.status_code == 200
    months = r.json()["months"]
    assert [m["month"] for m in months] == list(range(1, 13))
    rows = [
        x
        for x in await legacy_source.fetch(PURCHASES_SQL, g.DEMO_PREPAID_METER)
        if x["DATE_TRANSACTION"].year == year
    ]
    for m in months:
        in_month = [x for x in rows if x["DATE_TRANSACTION"].month == m["month"]]
        assert m["kwh"] == round(sum(float(x["ENERGIE_VENDUE"]) for x in in_month), 2)
        assert m["amount"] == round(sum(_paid(x) for x in in_month), 2)
    assert sum(m["kwh"] for m in months) > 0

    b = await client.get(f"/api/v1/me/meters/{postpaid_id}/consumption/monthly", headers=awa.headers)
    assert b.status_code == 200
    assert b.json()["year"] == year
    # postpaid: each bill spread over the days it covers, counted here day by day
    per_month: dict[int, float] = {}
    for x in await legacy_source.fetch(BILLS_SQL, g.DEMO_POSTPAID_CONTRACT):
        for k in range(x["NBJRS_"]):
            day = x["DATFACT"] - timedelta(days=k)
            if day.year == year:
                per_month[day.month] = per_month.get(day.month, 0.0) + float(x["BT_MONT_TTC"]) / x["NBJRS_"]
    for m in b.json()["months"]:
        assert abs(m["amount"] - per_month.get(m["month"], 0.0)) <= 0.01, m
    assert (
        await client.get(f"/api/v1/me/meters/{prepaid_id}/consumption/monthly?year=1990", headers=awa.headers)
    ).status_code == 422


async def test_home_summary_prepaid_and_postpaid(
    app: FastAPI, client: AsyncClient, db: Database, settings: Settings, legacy_source: LegacySource
) -> None:
    await seed_tariffs(db, settings)  # the tranche comes from the grid in force, as in production
    awa, prepaid_id, postpaid_id = await _demo_meters(client, db, settings)
    today = datetime.now(UTC)
    rows = [
        x
        for x in await legacy_source.fetch(PURCHASES_SQL, g.DEMO_PREPAID_METER)
        if (x["DATE_TRANSACTION"].year, x["DATE_TRANSACTION"].month) == (today.year, today.month)
    ]
    r = await client.get(f"/api/v1/me/meters/{prepaid_id}/summary", headers=awa.headers)
    assert r.status_code == 200, r.text
    s = r.json()
    kwh = round(sum(float(x["ENERGIE_VENDUE"]) for x in rows), 2)
    assert s["kind"] == "prepaid"
    assert s["kwh_this_month"] == kwh
    assert s["amount_this_month"] == round(sum(_paid(x) for x in rows), 2)
    assert s["purchases_this_month"] == 2
    assert s["monthly_fee_paid"] is True
    expected = tranche_status(kwh)
    assert s["tranche"] == expected.tranche
    assert s["kwh_left_in_tranche"] == expected.kwh_left_in_tranche
    assert s["last_purchase"]["order_number"] == rows[0]["NUMERO_COMMANDE"]

    # the same figures for another domain (the tariff simulator) through the service function
    mtd = await month_to_date(gateway_of(app), meter_number=g.DEMO_PREPAID_METER, poc=g.DEMO_PREPAID_POC)
    assert mtd.kwh == kwh
    assert mtd.monthly_fee_paid is True
    assert len(mtd.purchases) == 2

    p = await client.get(f"/api/v1/me/meters/{postpaid_id}/summary", headers=awa.headers)
    assert p.status_code == 200
    bills = await legacy_source.fetch(BILLS_SQL, g.DEMO_POSTPAID_CONTRACT)
    assert p.json()["last_bill"]["number"] == bills[0]["numFact"]
    status = tranche_status(float(bills[0]["BT_CONSTOT"]), days=bills[0]["NBJRS_"])
    assert p.json()["tranche"] == status.tranche

    # the meter's own tariff decides: PPP has one unbounded tranche; an unknown tariff has no grid
    async with db.sessionmaker() as session:
        await session.execute(
            update(Meter).where(Meter.id == uuid.UUID(prepaid_id)).values(tariff_code="PPP")
        )
        await session.commit()
    ppp = (await client.get(f"/api/v1/me/meters/{prepaid_id}/summary", headers=awa.headers)).json()
    assert (ppp["tranche"], ppp["kwh_left_in_tranche"]) == (1, None)
    assert ppp["kwh_this_month"] == kwh
    async with db.sessionmaker() as session:
        await session.execute(
            update(Meter).where(Meter.id == uuid.UUID(prepaid_id)).values(tariff_code="XYZ")
        )
        await session.commit()
    unknown = await client.get(f"/api/v1/me/meters/{prepaid_id}/summary", headers=awa.headers)
    assert unknown.status_code == 200
    assert (unknown.json()["tranche"], unknown.json()["kwh_left_in_tranche"]) == (None, None)
    assert unknown.json()["kwh_this_month"] == kwh


async def test_customer_never_sees_another_customers_consumption(
    client: AsyncClient, db: Database, settings: Settings, legacy_source: LegacySource
) -> None:
    awa, prepaid_id, postpaid_id = await _demo_meters(client, db, settings)
    mallory = await make_user(db, settings)
    # mallory asks for the same meter: pending, so still nothing to read
    pending = await client.post(
        "/api/v1/me/meters", json={"kind": "prepaid", "number": g.DEMO_PREPAID_METER}, headers=mallory.headers
    )
    assert pending.json()["status"] == "pending"
    routes = [
        f"/api/v1/me/meters/{prepaid_id}/purchases",
        f"/api/v1/me/meters/{postpaid_id}/bills",
        f"/api/v1/me/meters/{postpaid_id}/contract",
        f"/api/v1/me/meters/{prepaid_id}/consumption/monthly",
        f"/api/v1/me/meters/{postpaid_id}/consumption/monthly",
        f"/api/v1/me/meters/{prepaid_id}/summary",
        f"/api/v1/me/meters/{postpaid_id}/summary",
    ]
    for route in routes:
        assert (await client.get(route, headers=awa.headers)).status_code == 200, route
        denied = await client.get(route, headers=mallory.headers)
        if prepaid_id in route:  # mallory's link to it waits for the owner: nothing to read, and why
            assert denied.status_code == 409, route
            assert denied.json()["code"] == "pending_owner_approval"
        else:
            assert denied.status_code == 404, route
            assert denied.json()["code"] == "meter_not_found"
        guessed = route.replace(prepaid_id, str(uuid.uuid4())).replace(postpaid_id, str(uuid.uuid4()))
        assert (await client.get(guessed, headers=awa.headers)).status_code == 404
        assert (await client.get(route)).status_code == 401
    # the wrong kind of meter for the route
    assert (
        await client.get(f"/api/v1/me/meters/{postpaid_id}/purchases", headers=awa.headers)
    ).status_code == 404
    assert (await client.get(f"/api/v1/me/meters/{prepaid_id}/bills", headers=awa.headers)).status_code == 404
    # after removing the meter, its owner no longer reads it either
    assert (await client.delete(f"/api/v1/me/meters/{prepaid_id}", headers=awa.headers)).status_code == 204
    assert (
        await client.get(f"/api/v1/me/meters/{prepaid_id}/purchases", headers=awa.headers)
    ).status_code == 404


async def test_one_legacy_database_down_leaves_the_others_answering(
    app: FastAPI, client: AsyncClient, db: Database, settings: Settings, legacy_source: LegacySource
) -> None:
    awa, prepaid_id, postpaid_id = await _demo_meters(client, db, settings)
    breaker = gateway_of(app).breakers["bi_ods"]
    breaker.opened_at = time.monotonic()  # BI_ODS is known down: its breaker is open
    try:
        contract = await client.get(f"/api/v1/me/meters/{postpaid_id}/contract", headers=awa.headers)
        assert contract.status_code == 200
        assert contract.json()["holder"] == "DIOP Awa"
        assert contract.json()["email"] is None  # from BI_ODS: left out rather than failing the page
        assert (
            await client.get(f"/api/v1/me/meters/{postpaid_id}/bills", headers=awa.headers)
        ).status_code == 200
        assert (
            await client.get(f"/api/v1/me/meters/{prepaid_id}/purchases", headers=awa.headers)
        ).status_code == 200
        notice = await client.get(
            f"/api/v1/subscription-notices/{g.DEMO_NOTICE}", params={"phone": g.DEMO_PHONE}
        )
        assert notice.status_code == 503
        assert notice.json()["code"] == "legacy_bi_ods_unavailable"
        assert int(notice.headers["Retry-After"]) >= 1
    finally:
        breaker.record_success()
