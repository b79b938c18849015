"""Sharing you can manage: the owner's members list, pending links that say so, requests to an
absent owner that expire, and the agent's decision at the counter (audited)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import text

from samaconso.identity.models import Agency, Role
from samaconso.kit.db import Database
from samaconso.legacy import generator as g
from samaconso.meters.sharing import expire_absent_owner_requests
from samaconso.notifications.service import notify_user
from samaconso.settings import Settings
from tests.support.legacy import LegacySource
from tests.support.users import TestUser, make_user


async def _add(client: AsyncClient, user: TestUser, kind: str, number: str) -> Any:
    r = await client.post("/api/v1/me/meters", json={"kind": kind, "number": number}, headers=user.headers)
    assert r.status_code == 201, r.text
    return r.json()


async def _age_links(db: Database, days: int) -> None:
    async with db.sessionmaker() as session:
        await session.execute(
            text(
                "UPDATE meter_links SET created_at = now() - make_interval(days => :d) WHERE status = 'pending'"
            ),
            {"d": days},
        )
        await session.commit()


async def test_owner_sees_members_since_when_and_revokes_from_the_list(
    client: AsyncClient, db: Database, settings: Settings, legacy_source: LegacySource
) -> None:
    owner = await make_user(db, settings, phone=g.OTHER_OWNER_PHONE, first_name="Ibrahima", last_name="Sarr")
    own = await _add(client, owner, "prepaid", g.OTHER_PREPAID_METER)
    assert own["is_owner"] is True
    modou = await make_user(db, settings, first_name="Modou", last_name="Fall")
    khady = await make_user(db, settings, first_name="Khady", last_name="Ba")
    meter_id = (await _add(client, modou, "prepaid", g.OTHER_PREPAID_METER))["id"]
    await _add(client, khady, "prepaid", g.OTHER_PREPAID_METER)
    req = (await client.get("/api/v1/me/meter-access-requests", headers=owner.headers)).json()["items"]
    modou_req = next(r for r in req if r["requester"]["user_id"] == str(modou.id))
    assert (
        await client.post(
            f"/api/v1/me/meter-access-requests/{modou_req['id']}/approve", headers=owner.headers
        )
    ).status_code == 200

    r = await client.get(f"/api/v1/me/meters/{meter_id}/members?limit=1", headers=owner.headers)
    assert r.status_code == 200, r.text
    first = r.json()
    assert len(first["items"]) == 1
    rest = await client.get(
        f"/api/v1/me/meters/{meter_id}/members?limit=10&cursor={first['next_cursor']}", headers=owner.headers
    )
    members = {m["first_name"]: m for m in first["items"] + rest.json()["items"]}
    assert set(members) == {"Modou", "Khady"}  # the owner is not listed
    assert members["Modou"]["status"] == "active"
    assert members["Modou"]["member_since"] is not None
    assert members["Modou"]["access_request_id"] is None
    assert "***" in members["Modou"]["phone"]
    assert members["Khady"]["status"] == "pending"
    assert members["Khady"]["member_since"] is None
    assert members["Khady"]["access_request_id"] is not None

    # only the owner sees the list
    for who in (modou, khady, await make_user(db, settings)):
        denied = await client.get(f"/api/v1/me/meters/{meter_id}/members", headers=who.headers)
        assert denied.status_code == 404
        assert denied.json()["code"] == "meter_not_found"

    # revoke straight from the list
    gone = await client.delete(
        f"/api/v1/me/meters/{meter_id}/members/{members['Modou']['user_id']}", headers=owner.headers
    )
    assert gone.status_code == 204
    after = (await client.get(f"/api/v1/me/meters/{meter_id}/members", headers=owner.headers)).json()["items"]
    assert [m["first_name"] for m in after] == ["Khady"]


async def test_pending_meter_says_pending_owner_approval(
    client: AsyncClient, db: Database, settings: Settings, legacy_source: LegacySource
) -> None:
    requester = await make_user(db, settings)
    meter = await _add(client, requester, "postpaid", g.OTHER_POSTPAID_CONTRACT)
    assert meter["status"] == "pending"
    for path in ("bills", "summary", "contract", "consumption/monthly"):
        r = await client.get(
            f"/api/v1/me/meters/{meter['id']}/{path}", headers={**requester.headers, "Accept-Language": "en"}
        )
        assert r.status_code == 409, path
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "pending_owner_approval"
        assert "owner's approval" in r.json()["detail"]


async def test_request_to_absent_owner_expires_and_agent_decides_at_the_counter(
    app: FastAPI,
    client: AsyncClient,
    db: Database,
    settings: Settings,
    agencies: dict[str, Agency],
    legacy_source: LegacySource,
) -> None:
    # the owner of OTHER_PREPAID_METER (Thiès) has no account
    requester = await make_user(db, settings, first_name="Modou", last_name="Fall")
    meter = await _add(client, requester, "prepaid", g.OTHER_PREPAID_METER)
    # a request to an owner on the app does not expire: the owner can still answer it
    owner_on_app = await make_user(db, settings, phone=g.DEMO_PHONE)
    await _add(client, owner_on_app, "prepaid", g.DEMO_PREPAID_METER)
    other = await make_user(db, settings)
    waiting = await _add(client, other, "prepaid", g.DEMO_PREPAID_METER)

    await _age_links(db, 29)
    assert await expire_absent_owner_requests(db, notify=notify_user) == 0
    await _age_links(db, 31)
    assert await expire_absent_owner_requests(db, notify=notify_user) == 1
    mine = await client.get(f"/api/v1/me/meters/{meter['id']}", headers=requester.headers)
    assert mine.status_code == 404  # no longer in my list
    feed = (await client.get("/api/v1/me/notifications", headers=requester.headers)).json()["items"]
    expired_note = next(n for n in feed if n["type"] == "meter_access_expired")
    assert "30 jours" in expired_note["body"]
    assert "agence" in expired_note["body"]
    assert (await client.get(f"/api/v1/me/meters/{waiting['id']}", headers=other.headers)).json()[
        "status"
    ] == "pending"

    # at the counter: the Thiès agent finds the link by the meter number and approves it
    thies = await make_user(db, settings, Role.agent, agency_id=agencies["THS"].id)
    dakar = await make_user(db, settings, Role.agent, agency_id=agencies["DKC"].id)
    found = (await client.get(f"/api/v1/meters?number={g.OTHER_PREPAID_METER}", headers=thies.headers)).json()
    link = next(x for x in found["items"][0]["links"] if x["user_id"] == str(requester.id))
    assert link["status"] == "expired"
    body = {"approve": True, "note": "Accord écrit du titulaire vu", "documents_checked": ["cni_demandeur"]}
    url = f"/api/v1/meters/access-requests/{link['link_id']}/decide"
    assert (await client.post(url, json=body, headers=dakar.headers)).status_code == 404  # not their agency
    assert (await client.post(url, json=body, headers=requester.headers)).status_code == 403
    assert (
        await client.post(url, json={"approve": True, "note": ""}, headers=thies.headers)
    ).status_code == 422
    ok = await client.post(url, json=body, headers=thies.headers)
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "active"
    again = await client.post(url, json=body, headers=thies.headers)
    assert again.status_code == 409
    assert again.json()["code"] == "access_request_decided"
    # the requester now reads the meter; the decision is in the audit log, with the agent
    assert (
        await client.get(f"/api/v1/me/meters/{meter['id']}/purchases", headers=requester.headers)
    ).status_code == 200
    assert "meter_access_granted" in [
        n["type"]
        for n in (await client.get("/api/v1/me/notifications", headers=requester.headers)).json()["items"]
    ]
    admin = await make_user(db, settings, Role.admin)
    audit = await client.get(
        "/api/v1/admin/audit", params={"event": "meter_access_decided_at_counter"}, headers=admin.headers
    )
    assert audit.status_code == 200, audit.text
    entries = audit.json()["items"]
    assert len(entries) == 1
    assert entries[0]["details"]["decision"] == "approved"
    assert entries[0]["details"]["previous_status"] == "expired"
    assert entries[0]["details"]["documents_checked"] == ["cni_demandeur"]
    assert entries[0]["actor_id"] == str(thies.id)
    assert uuid.UUID(entries[0]["details"]["link_id"]) == uuid.UUID(link["link_id"])
