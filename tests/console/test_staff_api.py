"""The staff routes behind the console, through HTTP: search, the customer's file, token re-send
(the SMS lands in the outbox), unlock, PIN-reset code, own password — with the agency rule and the
audit trail."""

from __future__ import annotations

import uuid
from typing import Any

from httpx import AsyncClient
from sqlalchemy import select, update

from samaconso.identity.models import Agency, AuditEvent, Role, User
from samaconso.kit.db import Database
from samaconso.legacy import generator as g
from samaconso.meters.models import Meter
from samaconso.settings import Settings
from tests.identity.helpers import sms_to
from tests.support.legacy import LegacySource
from tests.support.users import TestUser, make_user

API = "/api/v1"


async def _setup(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> tuple[TestUser, str, TestUser, TestUser, TestUser]:
    """The demo customer with her Woyofal meter linked, an agent of the meter's agency, an agent of
    another agency, an administrator."""
    awa = await make_user(db, settings, phone=g.DEMO_PHONE, first_name="Awa", last_name="Diop")
    r = await client.post(
        f"{API}/me/meters", json={"kind": "prepaid", "number": g.DEMO_PREPAID_METER}, headers=awa.headers
    )
    assert r.status_code == 201, r.text
    meter_id = r.json()["id"]
    async with db.sessionmaker() as session:
        agency_id = (
            await session.execute(select(Meter.agency_id).where(Meter.id == uuid.UUID(meter_id)))
        ).scalar_one()
    assert agency_id is not None
    other = next(a for a in agencies.values() if a.id != agency_id)
    agent = await make_user(db, settings, Role.agent, agency_id=agency_id)
    stranger = await make_user(db, settings, Role.agent, agency_id=other.id)
    admin = await make_user(db, settings, Role.admin)
    return awa, meter_id, agent, stranger, admin


async def _audit(db: Database, event: str) -> list[AuditEvent]:
    async with db.sessionmaker() as session:
        return list((await session.execute(select(AuditEvent).where(AuditEvent.event == event))).scalars())


async def test_search_by_phone_in_any_form_name_and_meter_within_the_agency(
    client: AsyncClient,
    db: Database,
    settings: Settings,
    agencies: dict[str, Agency],
    legacy_source: LegacySource,
) -> None:
    awa, _, agent, stranger, admin = await _setup(client, db, settings, agencies)
    d = g.DEMO_PHONE[4:]
    national = f"{d[:2]} {d[2:5]} {d[5:7]} {d[7:]}"  # "77 123 45 67"
    for q in (
        g.DEMO_PHONE,
        g.DEMO_PHONE[4:],
        "00" + g.DEMO_PHONE[1:],
        national,
        "diop awa",
        "AWA",
        g.DEMO_PREPAID_METER,
    ):
        r = await client.get(f"{API}/staff/customers", params={"q": q}, headers=agent.headers)
        assert r.status_code == 200, (q, r.text)
        assert [c["id"] for c in r.json()["items"]] == [str(awa.id)], q
        assert r.json()["items"][0]["phone"] == g.DEMO_PHONE
    # another agency's agent finds nobody; the administrator finds her
    r = await client.get(f"{API}/staff/customers", params={"q": g.DEMO_PHONE}, headers=stranger.headers)
    assert r.status_code == 200
    assert r.json()["items"] == []
    r = await client.get(f"{API}/staff/customers", params={"q": "Diop"}, headers=admin.headers)
    assert [c["id"] for c in r.json()["items"]] == [str(awa.id)]
    # customers cannot search; a one-letter query is a clear 422 in French / English
    r = await client.get(f"{API}/staff/customers", params={"q": "Diop"}, headers=awa.headers)
    assert r.status_code == 403
    assert r.json()["code"] == "staff_only"
    r = await client.get(f"{API}/staff/customers", params={"q": "D"}, headers=agent.headers)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await client.get(f"{API}/staff/customers", params={"q": "%_"}, headers=admin.headers)
    assert r.status_code == 200
    assert r.json()["items"] == []


async def test_customer_file_and_token_resend_reach_the_sms_outbox(
    client: AsyncClient,
    db: Database,
    settings: Settings,
    agencies: dict[str, Agency],
    legacy_source: LegacySource,
) -> None:
    awa, meter_id, agent, stranger, _ = await _setup(client, db, settings, agencies)
    r = await client.get(f"{API}/staff/customers/{awa.id}", headers=agent.headers)
    assert r.status_code == 200, r.text
    file: dict[str, Any] = r.json()
    assert file["customer"]["phone"] == g.DEMO_PHONE
    assert [m["number"] for m in file["meters"]] == [g.DEMO_PREPAID_METER]
    assert [p["user_id"] for p in file["meters"][0]["people"]] == [str(awa.id)]
    assert file["meters"][0]["people"][0]["is_owner"] is True

    r = await client.get(f"{API}/staff/customers/{awa.id}/meters/{meter_id}/purchases", headers=agent.headers)
    assert r.status_code == 200, r.text
    purchases = r.json()["items"]
    rows = await legacy_source.fetch(
        'SELECT * FROM sic."HEXING_SENELECBILL_ALHDL2" WHERE "NUMERO_COMPTEUR" = $1 ORDER BY "DATE_TRANSACTION" DESC',
        g.DEMO_PREPAID_METER,
    )
    assert purchases
    assert purchases[0]["order_number"] == rows[0]["NUMERO_COMMANDE"]
    newest = purchases[0]
    assert newest["tokens"]

    before = len(sms_to(settings, g.DEMO_PHONE))
    url = f"{API}/staff/customers/{awa.id}/meters/{meter_id}/purchases/{newest['order_number']}/resend-token"
    r = await client.post(url, headers=agent.headers)
    assert r.status_code == 200, r.text
    assert r.json()["sent_to"] == g.DEMO_PHONE[:6] + "***" + g.DEMO_PHONE[-4:]
    messages = sms_to(settings, g.DEMO_PHONE)
    assert len(messages) == before + 1
    assert newest["order_number"] in messages[-1]["message"]
    assert all(token in messages[-1]["message"] for token in newest["tokens"])
    events = await _audit(db, "token_resent")
    assert [(e.user_id, e.actor_id, e.details["order_number"]) for e in events] == [
        (awa.id, agent.id, newest["order_number"])
    ]

    # another agency's agent: the customer does not exist for them, nothing sent
    for method, path in (
        ("GET", f"/staff/customers/{awa.id}"),
        ("GET", f"/staff/customers/{awa.id}/meters/{meter_id}/purchases"),
        ("POST", url.removeprefix(API)),
        ("POST", f"/staff/customers/{awa.id}/unlock"),
        ("POST", f"/staff/customers/{awa.id}/pin-reset-code"),
    ):
        r = await client.request(method, API + path, headers={**stranger.headers, "Accept-Language": "en"})
        assert r.status_code == 404, (path, r.text)
        assert r.json()["detail"] == "Customer not found (or not in your agency)."
    assert len(sms_to(settings, g.DEMO_PHONE)) == before + 1
    # an unknown purchase is a 404, a malformed order number a 422
    r = await client.post(url.replace(newest["order_number"], "NOPE-1"), headers=agent.headers)
    assert r.status_code == 404
    assert r.json()["detail"] == "Achat introuvable sur ce compteur."
    r = await client.post(url.replace(newest["order_number"], "a%20b"), headers=agent.headers)
    assert r.status_code == 422


async def test_unlock_and_pin_reset_code(
    client: AsyncClient,
    db: Database,
    settings: Settings,
    agencies: dict[str, Agency],
    legacy_source: LegacySource,
) -> None:
    awa, _, agent, _, _ = await _setup(client, db, settings, agencies)
    for _ in range(6):
        await client.post(f"{API}/auth/login", json={"phone": g.DEMO_PHONE, "pin": "9137"})
    r = await client.post(f"{API}/auth/login", json={"phone": g.DEMO_PHONE, "pin": "2580"})
    assert r.status_code in (423, 429), r.text  # locked out
    r = await client.get(f"{API}/staff/customers/{awa.id}", headers=agent.headers)
    assert r.json()["customer"]["locked"] is True

    r = await client.post(f"{API}/staff/customers/{awa.id}/unlock", headers=agent.headers)
    assert r.status_code == 200
    assert r.json()["locked"] is False
    r = await client.post(f"{API}/auth/login", json={"phone": g.DEMO_PHONE, "pin": "2580"})
    assert r.status_code == 200, r.text
    assert len(await _audit(db, "customer_unlocked")) == 1

    before = len(sms_to(settings, g.DEMO_PHONE))
    r = await client.post(f"{API}/staff/customers/{awa.id}/pin-reset-code", headers=agent.headers)
    assert r.status_code == 202, r.text
    messages = sms_to(settings, g.DEMO_PHONE)
    assert len(messages) == before + 1
    assert "réinitialisation" in messages[-1]["message"]
    assert [e.actor_id for e in await _audit(db, "pin_reset_code_sent")] == [agent.id]


async def test_staff_changes_own_password_and_other_sessions_end(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    agent = await make_user(db, settings, Role.agent, agency_id=agencies["DKC"].id)
    async with db.sessionmaker() as session:
        login = (await session.execute(select(User.login).where(User.id == agent.id))).scalar_one()
    other = await client.post(
        f"{API}/auth/staff/login", json={"login": login, "password": "Staff-Password-1"}
    )
    assert other.status_code == 200, other.text
    other_headers = {"Authorization": f"Bearer {other.json()['access_token']}"}

    r = await client.put(
        f"{API}/me/password",
        json={"current_password": "wrong", "new_password": "New-Password-2026"},
        headers=agent.headers,
    )
    assert r.status_code == 400
    assert r.json()["code"] == "wrong_password"
    r = await client.put(
        f"{API}/me/password",
        json={"current_password": "Staff-Password-1", "new_password": "short"},
        headers=agent.headers,
    )
    assert r.status_code == 422
    r = await client.put(
        f"{API}/me/password",
        json={"current_password": "Staff-Password-1", "new_password": "New-Password-2026"},
        headers=agent.headers,
    )
    assert r.status_code == 204, r.text
    assert (await client.get(f"{API}/me", headers=agent.headers)).status_code == 200  # this session stays
    assert (await client.get(f"{API}/me", headers=other_headers)).status_code == 401  # the other ended
    r = await client.post(f"{API}/auth/staff/login", json={"login": login, "password": "New-Password-2026"})
    assert r.status_code == 200
    # LDAP accounts change it in the directory
    async with db.sessionmaker() as session:
        await session.execute(update(User).where(User.id == agent.id).values(auth_source="ldap"))
        await session.commit()
    r = await client.put(
        f"{API}/me/password",
        json={"current_password": "New-Password-2026", "new_password": "Another-Pass-2027"},
        headers=agent.headers,
    )
    assert r.status_code == 409
    assert r.json()["code"] == "directory_account"


async def test_console_is_served_with_a_strict_csp(client: AsyncClient, db: Database) -> None:
    r = await client.get("/console/")
    assert r.status_code == 200
    assert "<main" in r.text
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert r.headers["x-frame-options"] == "DENY"
    js = await client.get("/console/app.js")
    assert js.status_code == 200
    assert "javascript" in js.headers["content-type"]
    assert "/api/v1" in js.text
    assert ".innerHTML" not in js.text


async def test_agent_files_a_request_for_a_walk_in_customer_with_an_attachment(
    client: AsyncClient,
    db: Database,
    settings: Settings,
    agencies: dict[str, Agency],
    legacy_source: LegacySource,
) -> None:
    from samaconso.requests.seed import seed as seed_request_types
    from tests.requests.helpers import PDF_MINI

    await seed_request_types(db, settings)
    awa, meter_id, agent, stranger, _ = await _setup(client, db, settings, agencies)
    up = await client.post(
        f"{API}/files", headers=agent.headers, files={"file": ("facture.pdf", PDF_MINI, "application/pdf")}
    )
    assert up.status_code == 201, up.text
    body = {
        "type": "reclamation_facture",
        "meter_id": meter_id,
        "comment": "Facture contestée, copie jointe.",
        "attachments": [up.json()["id"]],
    }
    r = await client.post(f"{API}/staff/customers/{awa.id}/requests", json=body, headers=stranger.headers)
    assert r.status_code == 404
    r = await client.post(f"{API}/staff/customers/{awa.id}/requests", json=body, headers=agent.headers)
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    # the customer sees it as hers, with the attachment; the agency queue has it
    mine = await client.get(f"{API}/me/requests/{rid}", headers=awa.headers)
    assert mine.status_code == 200, mine.text
    assert [a["original_name"] for a in mine.json()["attachments"]] == ["facture.pdf"]
    assert mine.json()["history"][0]["by"] == "agent"
    queue = await client.get(f"{API}/requests", headers=agent.headers)
    assert rid in [x["id"] for x in queue.json()["items"]]
    assert [e.actor_id for e in await _audit(db, "request_filed_for_customer")] == [agent.id]
