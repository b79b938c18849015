"""The console's staff lists are paged by cursor (colleagues, a customer's purchases and bills,
search results), and every action the console offers leaves its line in the audit trail."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import select

from samaconso.identity.models import Agency, AuditEvent, Role
from samaconso.kit.db import Database
from samaconso.legacy import generator as g
from samaconso.meters.models import Meter
from samaconso.requests.seed import seed as seed_request_types
from samaconso.settings import Settings
from samaconso.tariffs.seed import seed as seed_tariffs
from tests.notifications.conftest import link_meter
from tests.support.legacy import LegacySource
from tests.support.users import TestUser, make_user

API = "/api/v1"


async def _walk(client: AsyncClient, url: str, headers: dict[str, str], limit: int) -> list[list[Any]]:
    """Every page of a list, following ``next_cursor`` (at most 50 pages)."""
    pages: list[list[Any]] = []
    cursor: str | None = None
    for _ in range(50):
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        r = await client.get(url, params=params, headers=headers)
        assert r.status_code == 200, r.text
        pages.append(r.json()["items"])
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return pages
    raise AssertionError("the cursor never ended")


async def _demo_meter(client: AsyncClient, customer: TestUser, kind: str, number: str) -> str:
    r = await client.post(f"{API}/me/meters", json={"kind": kind, "number": number}, headers=customer.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def _agency_of(db: Database, meter_id: str) -> uuid.UUID:
    async with db.sessionmaker() as session:
        agency = (
            await session.execute(select(Meter.agency_id).where(Meter.id == uuid.UUID(meter_id)))
        ).scalar_one()
    assert agency is not None
    return agency


async def test_colleagues_are_paged_by_name_within_the_agency(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    dakar, thies = agencies["DKC"], agencies["THS"]
    names = ["Sow", "Ba", "Fall", "Ndiaye", "Cisse"]
    agents = [await make_user(db, settings, Role.agent, agency_id=dakar.id, last_name=n) for n in names]
    outsider = await make_user(db, settings, Role.agent, agency_id=thies.id, last_name="Aidara")
    pages = await _walk(client, f"{API}/staff/colleagues", agents[0].headers, limit=2)
    assert [len(p) for p in pages] == [2, 2, 1]
    seen = [x["last_name"] for p in pages for x in p]
    assert seen == sorted(names)  # by name, no one twice, no one missing
    assert str(outsider.id) not in {x["id"] for p in pages for x in p}
    # an administrator chooses the agency; a forged cursor is a 400 problem, in French or English
    r = await client.get(
        f"{API}/staff/colleagues",
        params={"agency_id": str(thies.id)},
        headers=(await _admin(db, settings)).headers,
    )
    assert r.status_code == 200, r.text
    assert [x["id"] for x in r.json()["items"]] == [str(outsider.id)]
    for lang, detail in (("fr", "Curseur de pagination invalide."), ("en", "Invalid pagination cursor.")):
        r = await client.get(
            f"{API}/staff/colleagues",
            params={"cursor": "bm90LWEtY3Vyc29y"},
            headers={**agents[0].headers, "Accept-Language": lang},
        )
        assert r.status_code == 400
        assert r.headers["content-type"].startswith("application/problem+json")
        assert (r.json()["code"], r.json()["detail"]) == ("invalid_cursor", detail)


async def _admin(db: Database, settings: Settings) -> TestUser:
    return await make_user(db, settings, Role.admin)


async def test_purchases_and_bills_are_paged_newest_first(
    client: AsyncClient,
    db: Database,
    settings: Settings,
    agencies: dict[str, Agency],
    legacy_source: LegacySource,
) -> None:
    awa = await make_user(db, settings, phone=g.DEMO_PHONE, first_name="Awa", last_name="Diop")
    prepaid = await _demo_meter(client, awa, "prepaid", g.DEMO_PREPAID_METER)
    postpaid = await _demo_meter(client, awa, "postpaid", g.DEMO_POSTPAID_CONTRACT)
    admin = await _admin(db, settings)
    base = f"{API}/staff/customers/{awa.id}/meters"
    for meter, key in ((prepaid, "purchases"), (postpaid, "bills")):
        whole = await client.get(f"{base}/{meter}/{key}", params={"limit": 100}, headers=admin.headers)
        assert whole.status_code == 200, whole.text
        everything = whole.json()["items"]
        assert len(everything) >= 3, key  # the demo customer has a year of them
        pages = await _walk(client, f"{base}/{meter}/{key}", admin.headers, limit=2)
        assert all(len(p) == 2 for p in pages[:-1])
        assert [x for p in pages for x in p] == everything, key
        dates = [x["date"] for x in everything]
        assert dates == sorted(dates, reverse=True)
    # a cursor of another shape is refused, not a 500
    r = await client.get(f"{base}/{prepaid}/purchases", params={"cursor": "W10"}, headers=admin.headers)
    assert r.status_code == 400
    assert r.json()["code"] == "invalid_cursor"


async def test_search_results_are_paged(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    dakar = agencies["DKC"]
    people = [await make_user(db, settings, first_name=f"Fatou{i}", last_name="Gueye") for i in range(5)]
    for p in people:
        await link_meter(db, p.id, dakar.id)
    agent = await make_user(db, settings, Role.agent, agency_id=dakar.id)
    r = await client.get(f"{API}/staff/customers", params={"q": "gueye", "limit": 2}, headers=agent.headers)
    assert r.status_code == 200
    found: list[str] = [x["id"] for x in r.json()["items"]]
    cursor = r.json()["next_cursor"]
    while cursor:
        r = await client.get(
            f"{API}/staff/customers",
            params={"q": "gueye", "limit": 2, "cursor": cursor},
            headers=agent.headers,
        )
        found += [x["id"] for x in r.json()["items"]]
        cursor = r.json()["next_cursor"]
    assert sorted(found) == sorted(str(p.id) for p in people)
    assert len(found) == len(set(found))


# ---- the audit trail: one row per action the console offers ------------------------------------

Action = Callable[[AsyncClient, dict[str, Any]], Awaitable[None]]


async def _ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json() if r.content else None


async def _resend(c: AsyncClient, w: dict[str, Any]) -> None:
    base = f"{API}/staff/customers/{w['awa'].id}/meters/{w['meter']}/purchases"
    newest = (await _ok(await c.get(base, headers=w["agent"].headers)))["items"][0]
    w["order"] = newest["order_number"]
    await _ok(await c.post(f"{base}/{newest['order_number']}/resend-token", headers=w["agent"].headers))


async def _unlock(c: AsyncClient, w: dict[str, Any]) -> None:
    await _ok(await c.post(f"{API}/staff/customers/{w['awa'].id}/unlock", headers=w["agent"].headers))


async def _pin_code(c: AsyncClient, w: dict[str, Any]) -> None:
    r = await c.post(f"{API}/staff/customers/{w['awa'].id}/pin-reset-code", headers=w["agent"].headers)
    await _ok(r, 202)


async def _broadcast(c: AsyncClient, w: dict[str, Any]) -> None:
    body = {
        "target": {"kind": "everyone"},
        "type": "campaign",
        "title": {"fr": "Maintenance", "en": "Maintenance"},
        "body": {"fr": "Dimanche matin.", "en": "Sunday morning."},
    }
    await _ok(await c.post(f"{API}/notifications", json=body, headers=w["admin"].headers), 202)


async def _tariff(c: AsyncClient, w: dict[str, Any]) -> None:
    body = {
        "code": "DPP",
        "label": "CRSE 2027 (audit)",
        "effective_from": "2027-01-01",
        "monthly_fee": 429,
        "municipal_tax_rate": 0.025,
        "vat_rate": 0.18,
        "vat_from_kwh": 250,
        "tranches": [
            {"kwh_from": 0, "kwh_to": 150, "price_postpaid": 80, "price_prepaid": 80},
            {"kwh_from": 150, "price_postpaid": 130, "price_prepaid": 130},
        ],
    }
    await _ok(await c.post(f"{API}/admin/tariffs", json=body, headers=w["admin"].headers), 201)


async def _type_created(c: AsyncClient, w: dict[str, Any]) -> None:
    body = {"code": "audit_essai", "label_fr": "Essai", "label_en": "Trial", "sla_hours": 24}
    w["type"] = (
        await _ok(await c.post(f"{API}/admin/request-types", json=body, headers=w["admin"].headers), 201)
    )["id"]


async def _type_updated(c: AsyncClient, w: dict[str, Any]) -> None:
    await _type_created(c, w)
    r = await c.patch(
        f"{API}/admin/request-types/{w['type']}", json={"sla_hours": 48}, headers=w["admin"].headers
    )
    await _ok(r)


async def _staff_created(c: AsyncClient, w: dict[str, Any]) -> None:
    body = {
        "login": "audit.agent",
        "role": "agent",
        "agency_id": str(w["dakar"].id),
        "first_name": "Audit",
        "last_name": "Agent",
        "password": "Audit-Agent-2026",
    }
    w["staff"] = (await _ok(await c.post(f"{API}/admin/users", json=body, headers=w["admin"].headers), 201))[
        "id"
    ]


async def _staff_updated(c: AsyncClient, w: dict[str, Any]) -> None:
    await _staff_created(c, w)
    r = await c.patch(
        f"{API}/admin/users/{w['staff']}", json={"is_active": False}, headers=w["admin"].headers
    )
    await _ok(r)


async def _agency_created(c: AsyncClient, w: dict[str, Any]) -> None:
    body = {"code": "AUDX", "name": "Agence Audit", "region": None}
    w["agency"] = (await _ok(await c.post(f"{API}/agencies", json=body, headers=w["admin"].headers), 201))[
        "id"
    ]


async def _agency_updated(c: AsyncClient, w: dict[str, Any]) -> None:
    await _agency_created(c, w)
    r = await c.patch(f"{API}/agencies/{w['agency']}", json={"is_active": False}, headers=w["admin"].headers)
    await _ok(r)


async def _open_request(c: AsyncClient, w: dict[str, Any]) -> str:
    body = {"type": "coupure_panne", "meter_id": w["meter"], "comment": "Plus de courant."}
    rid = str((await _ok(await c.post(f"{API}/me/requests", json=body, headers=w["awa"].headers), 201))["id"])
    w["request"] = rid
    return rid


async def _assigned(c: AsyncClient, w: dict[str, Any]) -> None:
    rid = await _open_request(c, w)
    body = {"assignee_id": str(w["colleague"].id)}
    await _ok(await c.post(f"{API}/requests/{rid}/assignment", json=body, headers=w["agent"].headers))


async def _taken(c: AsyncClient, w: dict[str, Any]) -> None:
    rid = await _open_request(c, w)
    await _ok(await c.patch(f"{API}/requests/{rid}", json={"assign_to_me": True}, headers=w["agent"].headers))


async def _transferred(c: AsyncClient, w: dict[str, Any]) -> None:
    rid = await _open_request(c, w)
    await _ok(await c.patch(f"{API}/requests/{rid}", json={"assign_to_me": True}, headers=w["agent"].headers))
    body = {"agency_id": str(w["thies"].id)}
    await _ok(await c.post(f"{API}/requests/{rid}/transfer", json=body, headers=w["agent"].headers))


def _ids(*names: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda w: {n: str(w[n].id) for n in names}


# (action, audit event, who acted, the details the line must carry — computed from the world)
CASES: list[tuple[str, Action, str, str, Callable[[dict[str, Any]], dict[str, Any]]]] = [
    ("token re-send", _resend, "token_resent", "agent", lambda w: {"order_number": w["order"]}),
    ("unlock", _unlock, "customer_unlocked", "agent", lambda w: {}),
    ("PIN-reset code", _pin_code, "pin_reset_code_sent", "agent", lambda w: {}),
    ("national broadcast", _broadcast, "notification_sent", "admin", lambda w: {"target": "everyone"}),
    ("tariff version", _tariff, "tariff_version_added", "admin", lambda w: {"effective_from": "2027-01-01"}),
    (
        "request type created",
        _type_created,
        "request_type_created",
        "admin",
        lambda w: {"code": "audit_essai"},
    ),
    (
        "request type changed",
        _type_updated,
        "request_type_updated",
        "admin",
        lambda w: {"changes": ["sla_hours"]},
    ),
    ("staff created", _staff_created, "staff_created", "admin", lambda w: {}),
    ("staff deactivated", _staff_updated, "staff_updated", "admin", lambda w: {}),
    ("agency created", _agency_created, "agency_created", "admin", lambda w: {"code": "AUDX"}),
    ("agency deactivated", _agency_updated, "agency_updated", "admin", lambda w: {"agency": w["agency"]}),
    (
        "request given to a colleague",
        _assigned,
        "request_assigned",
        "agent",
        lambda w: {"request": w["request"], "from_assignee": None, "to_assignee": str(w["colleague"].id)},
    ),
    (
        "request taken",
        _taken,
        "request_assigned",
        "agent",
        lambda w: {"request": w["request"], "to_assignee": str(w["agent"].id)},
    ),
    (
        "request transferred",
        _transferred,
        "request_transferred",
        "agent",
        lambda w: {
            "request": w["request"],
            "from_agency": str(w["dakar_meter_agency"]),
            "to_agency": str(w["thies"].id),
            "from_assignee": str(w["agent"].id),
        },
    ),
]


@pytest.mark.parametrize(("what", "action", "event", "actor", "details"), CASES, ids=[c[0] for c in CASES])
async def test_every_console_action_is_audited(
    client: AsyncClient,
    db: Database,
    settings: Settings,
    agencies: dict[str, Agency],
    legacy_source: LegacySource,
    what: str,
    action: Action,
    event: str,
    actor: str,
    details: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    await seed_request_types(db, settings)
    await seed_tariffs(db, settings)
    awa = await make_user(db, settings, phone=g.DEMO_PHONE, first_name="Awa", last_name="Diop")
    meter = await _demo_meter(client, awa, "prepaid", g.DEMO_PREPAID_METER)
    agency = await _agency_of(db, meter)
    other = next(a for a in agencies.values() if a.id != agency)
    world: dict[str, Any] = {
        "awa": awa,
        "meter": meter,
        "dakar": agencies["DKC"],
        "dakar_meter_agency": agency,
        "thies": other,
        "agent": await make_user(db, settings, Role.agent, agency_id=agency),
        "colleague": await make_user(db, settings, Role.agent, agency_id=agency, first_name="Binta"),
        "admin": await _admin(db, settings),
    }
    await action(client, world)
    async with db.sessionmaker() as session:
        rows = list((await session.execute(select(AuditEvent).where(AuditEvent.event == event))).scalars())
    assert len(rows) == 1, (what, [r.details for r in rows])
    row = rows[0]
    assert row.actor_id == world[actor].id, what
    assert row.at is not None
    expected = details(world)
    assert {k: row.details.get(k) for k in expected} == expected, (what, row.details)
    # the administrator reads the same line in the console's audit log (GET /admin/audit?event=)
    r = await client.get(f"{API}/admin/audit", params={"event": event}, headers=world["admin"].headers)
    assert r.status_code == 200, r.text
    assert [x["id"] for x in r.json()["items"]] == [str(row.id)]
