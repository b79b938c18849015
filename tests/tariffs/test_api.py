"""Tariffs API as the app and the back office use it: grid versions, bands, admin changes, simulator."""

from __future__ import annotations

from httpx import AsyncClient

from samaconso.identity.models import Role
from samaconso.kit.db import Database
from samaconso.kit.pagination import encode_cursor
from samaconso.meters.models import LinkStatus, MeterKind
from samaconso.settings import Settings
from tests.support.users import make_user
from tests.tariffs.helpers import make_meter

SIM = "/api/v1/simulator/prepaid"


def dpp_2027(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "code": "DPP",
        "label": "CRSE 2027 (test)",
        "effective_from": "2027-01-01",
        "monthly_fee": 429,
        "municipal_tax_rate": 0.025,
        "vat_rate": 0.18,
        "vat_from_kwh": 250,
        "tranches": [
            {"kwh_from": 0, "kwh_to": 150, "price_postpaid": 80, "price_prepaid": 80},
            {"kwh_from": 150, "kwh_to": 250, "price_postpaid": 130, "price_prepaid": 130},
            {"kwh_from": 250, "price_postpaid": 160, "price_prepaid": 130},
        ],
    }
    body.update(overrides)
    return body


async def test_tariffs_in_force_and_history_are_paginated(
    client: AsyncClient, grids: Database, settings: Settings
) -> None:
    user = await make_user(grids, settings)
    assert (await client.get("/api/v1/tariffs")).status_code == 401

    r = await client.get("/api/v1/tariffs", params={"on": "2026-03-01"}, headers=user.headers)
    assert r.status_code == 200
    items = r.json()["items"]
    assert [(i["code"], i["effective_from"]) for i in items] == [("DPP", "2026-01-01"), ("PPP", "2023-01-01")]
    dpp = items[0]
    assert [t["price_postpaid"] for t in dpp["tranches"]] == [82.0, 136.49, 159.36]
    assert [t["price_prepaid"] for t in dpp["tranches"]] == [82.0, 136.49, 136.49]
    assert dpp["prepaid_thresholds"][0] == {"tranche": 1, "amount": 13036.5}

    r = await client.get("/api/v1/tariffs", params={"on": "2025-06-30", "code": "dpp"}, headers=user.headers)
    assert [t["amount"] for t in r.json()["items"][0]["prepaid_thresholds"]] == [14446.0, 28436.0]

    page1 = await client.get("/api/v1/tariffs", params={"history": "true", "limit": 2}, headers=user.headers)
    body1 = page1.json()
    assert len(body1["items"]) == 2
    assert body1["next_cursor"]
    page2 = await client.get(
        "/api/v1/tariffs",
        params={"history": "true", "limit": 2, "cursor": body1["next_cursor"]},
        headers=user.headers,
    )
    body2 = page2.json()
    seen = [(i["code"], i["effective_from"]) for i in body1["items"] + body2["items"]]
    assert seen == [("DPP", "2023-01-01"), ("DPP", "2026-01-01"), ("PPP", "2023-01-01")]
    assert body2["next_cursor"] is None


async def test_bands_with_colours_and_language(
    client: AsyncClient, grids: Database, settings: Settings
) -> None:
    user = await make_user(grids, settings)
    r = await client.get("/api/v1/tariffs/DPP/bands", headers=user.headers)
    assert r.status_code == 200
    bands = r.json()["items"]
    assert [(b["kwh_min"], b["kwh_max"]) for b in bands] == [(0, 150), (150, 250), (250, None)]
    assert all(b["color_hex"].startswith("#") and len(b["color_hex"]) == 7 for b in bands)
    assert bands[0]["label"] == "Tranche sociale"
    en = await client.get("/api/v1/tariffs/DPP/bands", headers={**user.headers, "Accept-Language": "en"})
    assert en.json()["items"][0]["label"] == "Social tranche"
    missing = await client.get("/api/v1/tariffs/XYZ/bands", headers=user.headers)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


async def test_forged_cursors_are_refused_not_crashing(
    client: AsyncClient, grids: Database, settings: Settings
) -> None:
    """A cursor that decodes but holds the wrong kind of values is a 400 problem, not a 500."""
    user = await make_user(grids, settings)
    forged = {
        "/api/v1/tariffs?history=true": encode_cursor("DPP", "not-a-date"),
        "/api/v1/tariffs/DPP/bands": encode_cursor("not-a-position"),
    }
    for url, cursor in forged.items():
        r = await client.get(url, params={"cursor": cursor}, headers=user.headers)
        assert r.status_code == 400, (url, r.text)
        assert r.json()["code"] == "invalid_cursor"
        assert r.headers["content-type"].startswith("application/problem+json")


async def test_admin_adds_a_version_that_applies_from_its_date(
    client: AsyncClient, grids: Database, settings: Settings
) -> None:
    admin = await make_user(grids, settings, Role.admin)
    customer = await make_user(grids, settings)
    agent = await make_user(grids, settings, Role.agent)
    assert (
        await client.post("/api/v1/admin/tariffs", json=dpp_2027(), headers=customer.headers)
    ).status_code == 403
    assert (
        await client.post("/api/v1/admin/tariffs", json=dpp_2027(), headers=agent.headers)
    ).status_code == 403

    r = await client.post("/api/v1/admin/tariffs", json=dpp_2027(), headers=admin.headers)
    assert r.status_code == 201, r.text
    assert r.json()["effective_from"] == "2027-01-01"
    assert r.json()["effective_to"] is None

    # the 2026 grid now ends the day before; purchases are priced by date
    hist = await client.get(
        "/api/v1/tariffs", params={"history": "true", "code": "DPP"}, headers=customer.headers
    )
    periods = [(i["effective_from"], i["effective_to"]) for i in hist.json()["items"]]
    assert periods == [("2023-01-01", "2025-12-31"), ("2026-01-01", "2026-12-31"), ("2027-01-01", None)]
    before = await client.post(SIM, json={"kwh": 150, "on": "2026-12-31"}, headers=customer.headers)
    after = await client.post(SIM, json={"kwh": 150, "on": "2027-01-01"}, headers=customer.headers)
    assert before.json()["total"] == 13036.5
    assert after.json()["total"] == 12729.0  # trunc½(150 × 80 × 1.025) + 429
    assert after.json()["tariff"]["label"] == "CRSE 2027 (test)"


async def test_admin_version_rules_overlap_and_contiguity(
    client: AsyncClient, grids: Database, settings: Settings
) -> None:
    admin = await make_user(grids, settings, Role.admin)
    assert (
        await client.post("/api/v1/admin/tariffs", json=dpp_2027(), headers=admin.headers)
    ).status_code == 201
    same = await client.post("/api/v1/admin/tariffs", json=dpp_2027(label="again"), headers=admin.headers)
    assert same.status_code == 409
    assert same.json()["code"] == "tariff_version_overlap"
    inside = await client.post(
        "/api/v1/admin/tariffs",
        json=dpp_2027(effective_from="2026-06-01", effective_to="2026-07-31"),
        headers=admin.headers,
    )
    assert inside.status_code == 409
    gap = dpp_2027(effective_from="2030-01-01")
    gap["tranches"] = [
        {"kwh_from": 0, "kwh_to": 150, "price_postpaid": 80, "price_prepaid": 80},
        {"kwh_from": 160, "price_postpaid": 130, "price_prepaid": 130},
    ]
    bad = await client.post("/api/v1/admin/tariffs", json=gap, headers=admin.headers)
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_tariff_grid"
    assert bad.json()["problems"]
    bounded = dpp_2027(effective_from="2030-01-01")
    bounded["tranches"] = [{"kwh_from": 0, "kwh_to": 150, "price_postpaid": 80, "price_prepaid": 80}]
    assert (
        await client.post("/api/v1/admin/tariffs", json=bounded, headers=admin.headers)
    ).status_code == 422
    backwards = dpp_2027(effective_from="2031-01-01", effective_to="2030-01-01")
    assert (
        await client.post("/api/v1/admin/tariffs", json=backwards, headers=admin.headers)
    ).status_code == 422
    # a new code with its own bands
    new_code = dpp_2027(
        code="DMP",
        effective_from="2026-01-01",
        bands=[
            {"kwh_min": 0, "kwh_max": 150, "color_hex": "#00AA00", "label_fr": "Basse", "label_en": "Low"},
            {"kwh_min": 150, "color_hex": "#AA0000", "label_fr": "Haute", "label_en": "High"},
        ],
    )
    assert (
        await client.post("/api/v1/admin/tariffs", json=new_code, headers=admin.headers)
    ).status_code == 201
    bands = await client.get("/api/v1/tariffs/DMP/bands", headers=admin.headers)
    assert [b["color_hex"] for b in bands.json()["items"]] == ["#00AA00", "#AA0000"]


async def test_simulator_without_meter_reproduces_senelec_and_explains(
    client: AsyncClient, grids: Database, settings: Settings
) -> None:
    user = await make_user(grids, settings)
    r = await client.post(SIM, json={"amount": 14446, "on": "2025-06-15"}, headers=user.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source"] == "engine"
    assert body["fallback_reason"] == "no_meter"
    assert body["kwh"] == 150
    assert body["monthly_fee"] == 429
    assert body["rounding"] == 0
    assert [(t["tranche"], t["kwh"]) for t in body["tranches"]] == [(1, 150)]
    assert body["municipal_tax"] == round(150 * 91.17 * 0.025, 2)

    r = await client.post(SIM, json={"amount": 28436, "on": "2025-06-15"}, headers=user.headers)
    assert r.json()["kwh"] == 250
    assert r.json()["vat"] == 0

    r = await client.post(SIM, json={"kwh": 150}, headers=user.headers)
    assert r.json()["total"] == 13036.5
    assert r.json()["amount_to_pay"] == 13037

    r = await client.post(
        SIM, json={"amount": 5000, "month_to_date_kwh": 120, "fee_paid": True}, headers=user.headers
    )
    advice = r.json()["advice"]
    assert advice["crosses_tranche"] is True
    assert advice["kwh_left_in_current_tranche"] == 30
    assert advice["split"]["now_kwh"] == 30
    assert advice["split"]["extra_kwh"] > 0
    assert "30 kWh" in advice["message"]
    assert [t["tranche"] for t in r.json()["tranches"]] == [1, 2]

    small = await client.post(SIM, json={"amount": 2000}, headers=user.headers)
    assert small.json()["advice"]["crosses_tranche"] is False
    assert small.json()["advice"]["message"] is None


async def test_simulator_input_errors(client: AsyncClient, grids: Database, settings: Settings) -> None:
    user = await make_user(grids, settings)
    below = await client.post(SIM, json={"amount": 999}, headers=user.headers)
    assert below.status_code == 422
    assert below.json()["code"] == "below_minimum_purchase"
    both = await client.post(SIM, json={"amount": 5000, "kwh": 10}, headers=user.headers)
    assert both.status_code == 422
    assert both.json()["code"] == "validation_error"
    neither = await client.post(SIM, json={}, headers=user.headers)
    assert neither.status_code == 422
    unknown = await client.post(SIM, json={"amount": 5000, "tariff_code": "ZZZ"}, headers=user.headers)
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "tariff_not_found"
    too_early = await client.post(SIM, json={"amount": 5000, "on": "2020-01-01"}, headers=user.headers)
    assert too_early.status_code == 404
    ppp = await client.post(SIM, json={"amount": 10000, "tariff_code": "PPP"}, headers=user.headers)
    assert ppp.json()["tranches"][0]["unit_price"] == 147.43


async def test_simulator_with_meter_only_for_the_callers_active_link(
    client: AsyncClient, grids: Database, settings: Settings
) -> None:
    owner = await make_user(grids, settings)
    stranger = await make_user(grids, settings)
    waiting = await make_user(grids, settings)
    meter = await make_meter(
        grids, users={owner.id: LinkStatus.active, waiting.id: LinkStatus.pending}, tariff_code="PPP"
    )
    body = {"amount": 10000, "meter_id": str(meter.id)}

    r = await client.post(SIM, json=body, headers=owner.headers)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["meter"] == {"id": str(meter.id), "number": meter.number}
    assert answer["tariff"]["code"] == "PPP"  # the meter's tariff, not the default
    assert answer["source"] == "engine"
    assert answer["fallback_reason"] == "xmlvend_disabled"
    assert isinstance(answer["month_to_date_known"], bool)

    r = await client.post(SIM, json=body, headers=stranger.headers)
    assert r.status_code == 404
    assert r.json()["code"] == "meter_not_found"  # as on every route of someone else's meter
    r = await client.post(SIM, json=body, headers=waiting.headers)
    assert r.status_code == 409
    assert r.json()["code"] == "pending_owner_approval"  # as on every route of a meter I wait for

    postpaid = await make_meter(grids, users={owner.id: LinkStatus.active}, kind=MeterKind.postpaid)
    r = await client.post(SIM, json={"amount": 10000, "meter_id": str(postpaid.id)}, headers=owner.headers)
    assert r.status_code == 422
    assert r.json()["code"] == "meter_not_prepaid"
    r = await client.post(SIM, json={**body, "month_to_date_kwh": 10}, headers=owner.headers)
    assert r.status_code == 422


async def test_postpaid_estimate_for_a_60_day_bill(
    client: AsyncClient, grids: Database, settings: Settings
) -> None:
    user = await make_user(grids, settings)
    r = await client.post("/api/v1/simulator/postpaid", json={"kwh": 600, "days": 60}, headers=user.headers)
    assert r.status_code == 200, r.text
    bill = r.json()
    assert bill["tranche_bounds"] == [[0, 300], [300, 500], [500, None]]
    assert [(t["tranche"], t["kwh"], t["unit_price"]) for t in bill["tranches"]] == [
        (1, 300, 82.0),
        (2, 200, 136.49),
        (3, 100, 159.36),
    ]
    assert bill["vat"] == round(100 * 159.36 * 0.18, 2)
    assert bill["monthly_fee"] == 0
    assert bill["total"] == round(bill["energy_amount"] + bill["municipal_tax"] + bill["vat"], 2)
    old = await client.post(
        "/api/v1/simulator/postpaid", json={"kwh": 100, "days": 30, "on": "2025-03-01"}, headers=user.headers
    )
    assert old.json()["tranches"][0]["unit_price"] == 91.17
    bad = await client.post("/api/v1/simulator/postpaid", json={"kwh": 100, "days": 0}, headers=user.headers)
    assert bad.status_code == 422


async def test_simulator_is_rate_limited_per_user(
    client: AsyncClient, grids: Database, settings: Settings
) -> None:
    busy = await make_user(grids, settings)
    other = await make_user(grids, settings)
    for _ in range(60):
        assert (await client.post(SIM, json={"amount": 2000}, headers=busy.headers)).status_code == 200
    limited = await client.post(SIM, json={"amount": 2000}, headers=busy.headers)
    assert limited.status_code == 429
    assert limited.json()["code"] == "simulator_rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
    assert (await client.post(SIM, json={"amount": 2000}, headers=other.headers)).status_code == 200


def test_alert_scan_runs_on_the_low_priority_queue_every_half_hour() -> None:
    from samaconso.tariffs.tasks import housekeeping_tranche_alerts
    from samaconso.worker import BEAT_SCHEDULE, route_for

    assert route_for(housekeeping_tranche_alerts.name) == "low_priority"
    assert BEAT_SCHEDULE["tariffs-tranche-alerts"]["task"] == housekeeping_tranche_alerts.name


async def test_seed_is_idempotent_and_keeps_admin_changes(
    client: AsyncClient, grids: Database, settings: Settings
) -> None:
    from samaconso.tariffs.seed import seed

    admin = await make_user(grids, settings, Role.admin)
    assert (
        await client.post("/api/v1/admin/tariffs", json=dpp_2027(), headers=admin.headers)
    ).status_code == 201
    lines = await seed(grids, settings)
    assert lines == ["Tarifs : grilles de référence déjà présentes"]
    hist = await client.get("/api/v1/tariffs", params={"history": "true"}, headers=admin.headers)
    assert [(i["code"], i["effective_from"], i["effective_to"]) for i in hist.json()["items"]] == [
        ("DPP", "2023-01-01", "2025-12-31"),
        ("DPP", "2026-01-01", "2026-12-31"),
        ("DPP", "2027-01-01", None),
        ("PPP", "2023-01-01", None),
    ]
    fraction = await client.post(SIM, json={"amount": 5000.5}, headers=admin.headers)
    assert fraction.status_code == 422
