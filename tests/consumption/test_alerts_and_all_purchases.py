"""Purchases across all my meters, and the alerts I set (monthly kWh or FCFA per meter, prepaid
and postpaid), sent once per month and meter when crossed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import text

from samaconso.consumption.alerts import scan_alerts
from samaconso.kit.db import Database
from samaconso.legacy import generator as g
from samaconso.legacy.deps import gateway_of
from samaconso.settings import Settings
from tests.consumption.test_bills import TEST_CONTRACT_PREFIX, _insert
from tests.support.legacy import LegacySource
from tests.support.users import TestUser, make_user

PHONE = "+221775550003"
METER_A = g.with_luhn("1455550003")
METER_B = g.with_luhn("1455550004")
CONTRACT = TEST_CONTRACT_PREFIX + "0004"


async def _seed_legacy(url: str) -> None:
    await _insert(
        url,
        'sic."HEXING_INFOS_ADMINISTRATIVES_NEW"',
        [
            {
                "N° COMPTEUR": m,
                "POC": f"3{m[-10:]}",
                "TEL": PHONE[4:],
                "USAGE": "DPP",
                "CLIENT": "SY Aminata",
                "AGENCE": "HLM",
            }
            for m in (METER_A, METER_B)
        ],
    )
    await _insert(
        url,
        'sic."compteurs_postpaid"',
        [
            {
                "TELEPHONE": PHONE[4:],
                "COMPTE CONTRAT": CONTRACT,
                "TARIF": "DPP",
                "CLIENT": "SY Aminata",
                "AGENCE": "HLM",
            }
        ],
    )
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    purchases = []
    for i, (meter, minutes, kwh, amount) in enumerate(
        [
            (METER_A, 50, "60.0", 6000),
            (METER_B, 40, "25.5", 2500),
            (METER_A, 30, "45.0", 4500),
            (METER_B, 20, "10.0", 1000),
            (METER_A, 10, "12.0", 1200),
        ]
    ):
        purchases.append(
            {
                "NUMERO_COMMANDE": f"99{i:012d}",
                "NUMERO_COMPTEUR": meter,
                "POLICE": f"3{meter[-10:]}",
                "DATE_TRANSACTION": now - timedelta(minutes=minutes),
                "MONTANT_TTC": Decimal(amount),
                "MONTANT_RECU": Decimal(amount),
                "ENERGIE_VENDUE": Decimal(kwh),
            }
        )
    await _insert(url, 'sic."HEXING_SENELECBILL_ALHDL2"', purchases)
    today = now.date()
    await _insert(
        url,
        'histh2mc."Historique"',
        [
            {
                "numFact": "7799000001",
                "numCC": CONTRACT,
                "DATFACT": today,
                "DATEECH": today + timedelta(days=15),
                "NBJRS_": 60,
                "BT_CONSTOT": Decimal(600),
                "BT_MONT_TTC": Decimal("70000"),
            }
        ],
    )


async def _customer(
    client: AsyncClient, db: Database, settings: Settings, url: str
) -> tuple[TestUser, dict[str, str]]:
    await _seed_legacy(url)
    user = await make_user(db, settings, phone=PHONE)
    ids = {}
    for kind, number in (("prepaid", METER_A), ("prepaid", METER_B), ("postpaid", CONTRACT)):
        r = await client.post(
            "/api/v1/me/meters", json={"kind": kind, "number": number}, headers=user.headers
        )
        assert r.status_code == 201, r.text
        ids[number] = r.json()["id"]
    return user, ids


async def test_purchases_across_all_my_meters_and_alerts_that_fire_once_a_month(
    app: FastAPI, client: AsyncClient, db: Database, settings: Settings, legacy_source: LegacySource
) -> None:
    user, ids = await _customer(client, db, settings, legacy_source.url)

    # every purchase of both meters, newest first, 2 at a time
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        url = "/api/v1/me/purchases?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(url, headers=user.headers)).json()
        assert len(page["items"]) <= 2
        seen += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [p["order_number"] for p in seen] == [f"99{i:012d}" for i in (4, 3, 2, 1, 0)]
    assert [p["meter_number"] for p in seen] == [METER_A, METER_B, METER_A, METER_B, METER_A]
    assert {p["meter_id"] for p in seen} == {ids[METER_A], ids[METER_B]}
    # someone else sees none of them
    other = await make_user(db, settings)
    assert (await client.get("/api/v1/me/purchases", headers=other.headers)).json()["items"] == []

    # alerts: A at 100 kWh (117 bought), B at 5 000 FCFA (3 500 paid), the contract at 250 kWh a
    # month (its bill: 600 kWh over 60 days = 300 a month)
    body = {
        "alerts": [
            {"meter_id": ids[METER_A], "metric": "kwh", "threshold": 100},
            {"meter_id": ids[METER_B], "metric": "amount", "threshold": 5000},
            {"meter_id": ids[CONTRACT], "metric": "kwh", "threshold": 250},
        ]
    }
    r = await client.put("/api/v1/me/alerts", json=body, headers=user.headers)
    assert r.status_code == 200, r.text
    month = datetime.now(UTC).date().replace(day=1).isoformat()
    # checked right after the save: A and the contract are over their threshold this month, B is not
    r = await client.get("/api/v1/me/alerts", headers=user.headers)
    assert sorted(
        (a["meter_number"], a["metric"], a["threshold"], a["last_sent_month"]) for a in r.json()["items"]
    ) == sorted(
        [(METER_A, "kwh", 100.0, month), (METER_B, "amount", 5000.0, None), (CONTRACT, "kwh", 250.0, month)]
    )
    gateway = gateway_of(app)
    assert await scan_alerts(db, gateway) == 0  # the periodic scan: once per month and meter
    feed = (await client.get("/api/v1/me/notifications", headers=user.headers)).json()["items"]
    alerts = [n for n in feed if n["type"] == "consumption_alert"]
    assert sorted(n["data"]["meter_id"] for n in alerts) == sorted([ids[METER_A], ids[CONTRACT]])
    assert any("117 kWh" in n["body"] and METER_A in n["body"] for n in alerts)
    listed = (await client.get("/api/v1/me/alerts", headers=user.headers)).json()["items"]
    assert {a["meter_number"]: a["last_sent_month"] for a in listed} == {
        METER_A: month,
        METER_B: None,
        CONTRACT: month,
    }

    # B's threshold lowered below what was paid: it fires, once
    body["alerts"][1]["threshold"] = 3000
    assert (await client.put("/api/v1/me/alerts", json=body, headers=user.headers)).status_code == 200
    again = (await client.get("/api/v1/me/alerts", headers=user.headers)).json()["items"]
    assert {a["meter_number"]: a["last_sent_month"] for a in again}[METER_B] == month
    assert await scan_alerts(db, gateway) == 0
    assert (await client.put("/api/v1/me/alerts", json=body, headers=user.headers)).status_code == 200
    feed = (await client.get("/api/v1/me/notifications", headers=user.headers)).json()["items"]
    assert len([n for n in feed if n["type"] == "consumption_alert"]) == 3

    # the periodic scan sends what the immediate check did not (e.g. a purchase made since)
    await client.put("/api/v1/me/alerts", json={"alerts": []}, headers=user.headers)
    async with db.sessionmaker() as session:
        await session.execute(text("DELETE FROM consumption_alerts_sent"))
        await session.execute(
            text(
                "INSERT INTO consumption_alerts (id, user_id, meter_id, metric, threshold) "
                "VALUES (gen_random_uuid(), :u, :m, 'kwh', 50)"
            ),
            {"u": user.id, "m": ids[METER_A]},
        )
        await session.commit()
    assert await scan_alerts(db, gateway) == 1
    assert await scan_alerts(db, gateway) == 0


async def test_alert_settings_are_checked(
    client: AsyncClient, db: Database, settings: Settings, legacy_source: LegacySource
) -> None:
    user = await make_user(db, settings, phone=g.DEMO_PHONE)
    meter = (
        await client.post(
            "/api/v1/me/meters",
            json={"kind": "prepaid", "number": g.DEMO_PREPAID_METER},
            headers=user.headers,
        )
    ).json()["id"]
    zero = await client.put(
        "/api/v1/me/alerts",
        json={"alerts": [{"meter_id": meter, "metric": "kwh", "threshold": 0}]},
        headers=user.headers,
    )
    assert zero.status_code == 422
    twice = [
        {"meter_id": meter, "metric": "kwh", "threshold": 10},
        {"meter_id": meter, "metric": "amount", "threshold": 10},
    ]
    dup = await client.put(
        "/api/v1/me/alerts", json={"alerts": twice}, headers={**user.headers, "Accept-Language": "en"}
    )
    assert dup.status_code == 422
    assert dup.json()["detail"] == "One alert per meter."
    stranger = await make_user(db, settings)
    theirs = await client.put(
        "/api/v1/me/alerts",
        json={"alerts": [{"meter_id": meter, "metric": "kwh", "threshold": 10}]},
        headers=stranger.headers,
    )
    assert theirs.status_code == 404
    # an empty list removes them all
    ok = await client.put(
        "/api/v1/me/alerts",
        json={"alerts": [{"meter_id": meter, "metric": "kwh", "threshold": 10}]},
        headers=user.headers,
    )
    assert ok.status_code == 200
    assert (await client.put("/api/v1/me/alerts", json={"alerts": []}, headers=user.headers)).json() == []
    assert (await client.get("/api/v1/me/alerts", headers=user.headers)).json()["items"] == []
