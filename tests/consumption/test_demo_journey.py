"""The issue's "done when", on the demo data `make run` seeds: the demo customer downloads a bill as
a PDF whose lines add up, sees the members of the meter they own, follows a request by its
reference, rates and reopens it, sees an outage an agent declared, and sets an alert that fires."""

from __future__ import annotations

import io

from httpx import AsyncClient
from pypdf import PdfReader

from samaconso.identity import seed as identity_seed
from samaconso.kit.db import Database
from samaconso.meters import seed as meters_seed
from samaconso.outages import seed as outages_seed
from samaconso.requests import seed as requests_seed
from samaconso.settings import Settings
from samaconso.tariffs import seed as tariffs_seed
from tests.support.legacy import LegacySource

API = "/api/v1"


async def test_demo_customer_journey_on_the_seeded_demo_data(
    client: AsyncClient, db: Database, settings: Settings, legacy_source: LegacySource
) -> None:
    embedded = settings.model_copy(update={"profile": "embedded"})  # what `make run` uses
    for module in (identity_seed, tariffs_seed, meters_seed, requests_seed, outages_seed):
        await module.seed(db, embedded)
    for module in (meters_seed, requests_seed, outages_seed):  # idempotent: nothing twice
        assert await module.seed(db, embedded) == []

    login = await client.post(
        f"{API}/auth/login",
        json={"phone": identity_seed.DEMO_CUSTOMER_PHONE, "pin": identity_seed.DEMO_CUSTOMER_PIN},
    )
    assert login.status_code == 200, login.text
    me = {"Authorization": f"Bearer {login.json()['access_token']}"}
    staff_login = await client.post(
        f"{API}/auth/staff/login",
        json={"login": identity_seed.DEMO_AGENT_LOGIN, "password": identity_seed.DEMO_AGENT_PASSWORD},
    )
    agent = {"Authorization": f"Bearer {staff_login.json()['access_token']}"}
    meters = {m["kind"]: m for m in (await client.get(f"{API}/me/meters", headers=me)).json()["items"]}

    # a bill as a PDF whose lines add up
    bill = (await client.get(f"{API}/me/meters/{meters['postpaid']['id']}/bills?limit=1", headers=me)).json()[
        "items"
    ][0]
    lines = round(sum(t["amount"] for t in bill["tranches"]), 2)
    assert lines == bill["amount_excl_tax"]
    assert round(lines + bill["municipal_tax"] + bill["vat"], 2) == bill["amount"]
    pdf = await client.get(
        f"{API}/me/meters/{meters['postpaid']['id']}/bills/{bill['number']}/pdf", headers=me
    )
    assert pdf.headers["content-type"] == "application/pdf"
    assert bill["number"] in PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()

    # the members of the meter they own
    members = (await client.get(f"{API}/me/meters/{meters['prepaid']['id']}/members", headers=me)).json()[
        "items"
    ]
    assert {(m["first_name"], m["status"]) for m in members} == {("Modou", "active"), ("Khady", "pending")}

    # a request followed by its reference to resolution, rated and reopened
    [req] = (await client.get(f"{API}/me/requests", headers=me)).json()["items"]
    assert req["status"] == "resolved"
    found = (
        await client.get(f"{API}/requests", params={"reference": req["reference"]}, headers=agent)
    ).json()
    assert [r["id"] for r in found["items"]] == [req["id"]]
    rated = await client.post(
        f"{API}/me/requests/{req['id']}/rating", json={"score": 4, "comment": "Clair."}, headers=me
    )
    assert rated.status_code == 200, rated.text
    reopened = await client.post(
        f"{API}/me/requests/{req['id']}/reopen", json={"reason": "Je conteste l'index relevé."}, headers=me
    )
    assert reopened.json()["status"] == "in_progress"

    # an outage an agent declared
    [outage] = (await client.get(f"{API}/me/outages", headers=me)).json()["items"]
    assert outage["status"] == "ongoing"

    # an alert that fires (this month's Woyofal purchases are above 1 kWh)
    alert = await client.put(
        f"{API}/me/alerts",
        json={"alerts": [{"meter_id": meters["prepaid"]["id"], "metric": "kwh", "threshold": 1}]},
        headers=me,
    )
    assert alert.status_code == 200, alert.text
    feed = (await client.get(f"{API}/me/notifications", headers=me)).json()["items"]
    assert "consumption_alert" in [n["type"] for n in feed]
