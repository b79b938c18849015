"""Adding meters, ownership, approvals and revocations, as a customer would see them through the API."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient

from samaconso.identity.models import Agency, Role
from samaconso.kit.db import Database
from samaconso.legacy import generator as g
from samaconso.legacy.numbers import with_luhn
from samaconso.settings import Settings
from tests.support.legacy import LegacySource
from tests.support.users import TestUser, make_user


async def _add(client: AsyncClient, user: TestUser, kind: str, number: str) -> Any:
    return await client.post("/api/v1/me/meters", json={"kind": kind, "number": number}, headers=user.headers)


async def _types(client: AsyncClient, user: TestUser) -> list[str]:
    r = await client.get("/api/v1/me/notifications", headers=user.headers)
    assert r.status_code == 200, r.text
    return [n["type"] for n in r.json()["items"]]


async def test_owner_adds_prepaid_meter_active_default_and_recorded_in_legacy(
    client: AsyncClient,
    db: Database,
    settings: Settings,
    agencies: dict[str, Agency],
    legacy_source: LegacySource,
) -> None:
    await legacy_source.fetch('DELETE FROM sic."compteurs_app_mobile"')
    awa = await make_user(db, settings, phone=g.DEMO_PHONE)
    r = await _add(client, awa, "prepaid", g.DEMO_PREPAID_METER[:4] + " " + g.DEMO_PREPAID_METER[4:])
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "active"
    assert body["is_owner"]
    assert body["is_default"]
    assert body["number"] == g.DEMO_PREPAID_METER
    assert body["poc"] == g.DEMO_PREPAID_POC
    assert body["customer_name"] == "DIOP Awa"
    assert body["agency_id"] == str(agencies["DKC"].id)
    assert body["agency_name"] == "Dakar Centre"
    rows = await legacy_source.fetch('SELECT numero, type_compteur FROM sic."compteurs_app_mobile"')
    assert rows == [{"numero": g.DEMO_PREPAID_METER, "type_compteur": "prepaid"}]

    again = await _add(client, awa, "prepaid", g.DEMO_PREPAID_METER)
    assert again.status_code == 409
    assert again.json()["code"] == "meter_already_linked"

    r2 = await _add(client, awa, "postpaid", g.DEMO_POSTPAID_CONTRACT)
    assert r2.status_code == 201, r2.text
    assert r2.json()["status"] == "active"
    assert r2.json()["is_default"] is False

    listing = await client.get("/api/v1/me/meters?limit=1", headers=awa.headers)
    assert listing.status_code == 200
    page1 = listing.json()
    assert [m["number"] for m in page1["items"]] == [g.DEMO_PREPAID_METER]
    assert page1["items"][0]["agency_name"] == "Dakar Centre"
    assert page1["next_cursor"]
    one = await client.get(f"/api/v1/me/meters/{body['id']}", headers=awa.headers)
    assert one.status_code == 200
    assert one.json() == {**body, "is_default": True}
    page2 = (
        await client.get(f"/api/v1/me/meters?limit=1&cursor={page1['next_cursor']}", headers=awa.headers)
    ).json()
    assert [m["number"] for m in page2["items"]] == [g.DEMO_POSTPAID_CONTRACT]
    assert page2["next_cursor"] is None

    # The meter is recorded once in compteurs_app_mobile: a second customer adding it adds no row.
    other = await make_user(db, settings)
    assert (await _add(client, other, "prepaid", g.DEMO_PREPAID_METER)).status_code == 201
    assert len(await legacy_source.fetch('SELECT * FROM sic."compteurs_app_mobile"')) == 2


async def test_number_format_and_unknown_meters(
    client: AsyncClient, db: Database, settings: Settings, legacy_source: LegacySource
) -> None:
    user = await make_user(db, settings)
    bad_luhn = g.DEMO_PREPAID_METER[:-1] + str((int(g.DEMO_PREPAID_METER[-1]) + 1) % 10)
    for kind, number in (
        ("prepaid", bad_luhn),
        ("prepaid", "123456789012"),
        ("prepaid", "abc"),
        ("postpaid", "12"),
    ):
        r = await _add(client, user, kind, number)
        assert r.status_code == 422, (number, r.text)
        assert r.json()["code"] == "validation_error"
    en = await client.post(
        "/api/v1/me/meters",
        json={"kind": "prepaid", "number": bad_luhn},
        headers={**user.headers, "Accept-Language": "en"},
    )
    assert "check the digits" in en.json()["errors"][0]["message"]
    unknown = await _add(client, user, "prepaid", with_luhn("1999999999"))
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "meter_unknown"
    unknown_cc = await _add(client, user, "postpaid", "3999999999")
    assert unknown_cc.status_code == 404
    assert unknown_cc.json()["code"] == "contract_unknown"


async def test_pending_request_approved_then_revoked_by_owner_only(
    client: AsyncClient, db: Database, settings: Settings, legacy_source: LegacySource
) -> None:
    owner = await make_user(db, settings, phone=g.OTHER_OWNER_PHONE, first_name="Ibrahima", last_name="Sarr")
    requester = await make_user(db, settings, first_name="Modou", last_name="Fall")
    stranger = await make_user(db, settings)

    r = await _add(client, requester, "prepaid", g.OTHER_PREPAID_METER)
    assert r.status_code == 201, r.text
    meter = r.json()
    assert meter["status"] == "pending"
    assert not meter["is_owner"]
    assert not meter["is_default"]
    assert "meter_access_requested" in await _types(client, owner)

    # the requester cannot read consumption while pending, and is told why
    waiting = await client.get(f"/api/v1/me/meters/{meter['id']}/purchases", headers=requester.headers)
    assert waiting.status_code == 409
    assert waiting.json()["code"] == "pending_owner_approval"

    requests = (await client.get("/api/v1/me/meter-access-requests", headers=owner.headers)).json()["items"]
    assert len(requests) == 1
    req = requests[0]
    feed = (await client.get("/api/v1/me/notifications", headers=owner.headers)).json()["items"]
    assert feed[0]["data"]["request_id"] == req["id"]
    assert feed[0]["data"]["meter_id"] == meter["id"]
    assert req["meter"]["number"] == g.OTHER_PREPAID_METER
    assert req["requester"]["user_id"] == str(requester.id)
    assert req["requester"]["first_name"] == "Modou"
    assert "***" in req["requester"]["phone"]
    # nobody else sees it or decides it
    assert (await client.get("/api/v1/me/meter-access-requests", headers=stranger.headers)).json()[
        "items"
    ] == []
    for who in (stranger, requester):
        denied = await client.post(
            f"/api/v1/me/meter-access-requests/{req['id']}/approve", headers=who.headers
        )
        assert denied.status_code == 404
    assert (
        await client.post(f"/api/v1/me/meter-access-requests/{uuid.uuid4()}/approve", headers=owner.headers)
    ).status_code == 404

    ok = await client.post(f"/api/v1/me/meter-access-requests/{req['id']}/approve", headers=owner.headers)
    assert ok.status_code == 200
    assert ok.json()["status"] == "active"
    twice = await client.post(f"/api/v1/me/meter-access-requests/{req['id']}/refuse", headers=owner.headers)
    assert twice.status_code == 409
    mine = (await client.get(f"/api/v1/me/meters/{meter['id']}", headers=requester.headers)).json()
    assert mine["status"] == "active"
    assert mine["is_default"] is True
    assert "meter_access_granted" in await _types(client, requester)

    # only the owner revokes
    path = f"/api/v1/me/meters/{meter['id']}/members/{requester.id}"
    assert (await client.delete(path, headers=stranger.headers)).status_code == 404
    assert (await client.delete(path, headers=requester.headers)).status_code == 404
    assert (await client.delete(path, headers=owner.headers)).status_code == 204
    assert (
        await client.get(f"/api/v1/me/meters/{meter['id']}", headers=requester.headers)
    ).status_code == 404
    assert "meter_access_revoked" in await _types(client, requester)
    assert (await client.delete(path, headers=owner.headers)).status_code == 404


async def test_owner_refuses_and_requester_may_not_ask_again_at_once(
    client: AsyncClient, db: Database, settings: Settings, legacy_source: LegacySource
) -> None:
    owner = await make_user(db, settings, phone=g.OTHER_OWNER_PHONE)
    requester = await make_user(db, settings)
    meter = (await _add(client, requester, "postpaid", g.OTHER_POSTPAID_CONTRACT)).json()
    assert meter["status"] == "pending"
    req = (await client.get("/api/v1/me/meter-access-requests", headers=owner.headers)).json()["items"][0]
    refused = await client.post(f"/api/v1/me/meter-access-requests/{req['id']}/refuse", headers=owner.headers)
    assert refused.status_code == 200
    assert refused.json()["status"] == "refused"
    assert "meter_access_refused" in await _types(client, requester)
    assert (await client.get("/api/v1/me/meters", headers=requester.headers)).json()["items"] == []
    # asking again waits for the cool-down (tests/meters/test_access_request_limits.py)
    again = await _add(client, requester, "postpaid", g.OTHER_POSTPAID_CONTRACT)
    assert again.status_code == 429
    assert again.json()["code"] == "access_request_cooldown"


async def test_owner_not_an_app_user_leaves_request_pending(
    client: AsyncClient, db: Database, settings: Settings, legacy_source: LegacySource
) -> None:
    requester = await make_user(db, settings)
    r = await _add(client, requester, "prepaid", g.OTHER_PREPAID_METER)
    assert r.status_code == 201
    assert r.json()["status"] == "pending"


async def test_remove_and_default_switch(
    client: AsyncClient, db: Database, settings: Settings, legacy_source: LegacySource
) -> None:
    awa = await make_user(db, settings, phone=g.DEMO_PHONE)
    prepaid = (await _add(client, awa, "prepaid", g.DEMO_PREPAID_METER)).json()
    postpaid = (await _add(client, awa, "postpaid", g.DEMO_POSTPAID_CONTRACT)).json()
    r = await client.put(f"/api/v1/me/meters/{postpaid['id']}/default", headers=awa.headers)
    assert r.status_code == 200
    assert r.json()["is_default"] is True
    assert (await client.get(f"/api/v1/me/meters/{prepaid['id']}", headers=awa.headers)).json()[
        "is_default"
    ] is False
    assert (
        await client.delete(f"/api/v1/me/meters/{postpaid['id']}", headers=awa.headers)
    ).status_code == 204
    assert (await client.get(f"/api/v1/me/meters/{postpaid['id']}", headers=awa.headers)).status_code == 404
    assert (await client.get(f"/api/v1/me/meters/{prepaid['id']}", headers=awa.headers)).json()[
        "is_default"
    ] is True

    # someone else's meter id is not found for me, whatever the verb
    other = await make_user(db, settings)
    for method, path in (
        ("GET", f"/api/v1/me/meters/{prepaid['id']}"),
        ("DELETE", f"/api/v1/me/meters/{prepaid['id']}"),
        ("PUT", f"/api/v1/me/meters/{prepaid['id']}/default"),
    ):
        assert (await client.request(method, path, headers=other.headers)).status_code == 404


async def test_staff_lookup_is_scoped_to_the_agency(
    client: AsyncClient,
    db: Database,
    settings: Settings,
    agencies: dict[str, Agency],
    legacy_source: LegacySource,
) -> None:
    awa = await make_user(db, settings, phone=g.DEMO_PHONE)
    await _add(client, awa, "prepaid", g.DEMO_PREPAID_METER)
    dakar = await make_user(db, settings, Role.agent, agency_id=agencies["DKC"].id)
    thies = await make_user(db, settings, Role.agent, agency_id=agencies["THS"].id)
    admin = await make_user(db, settings, Role.admin)
    url = f"/api/v1/meters?number={g.DEMO_PREPAID_METER}"
    seen = (await client.get(url, headers=dakar.headers)).json()["items"]
    assert [m["number"] for m in seen] == [g.DEMO_PREPAID_METER]
    assert [{k: v for k, v in link.items() if k != "link_id"} for link in seen[0]["links"]] == [
        {"user_id": str(awa.id), "status": "active", "is_owner": True}
    ]
    assert (await client.get(url, headers=thies.headers)).json()["items"] == []
    assert len((await client.get(url, headers=admin.headers)).json()["items"]) == 1
    assert (await client.get(url, headers=awa.headers)).status_code == 403
    # customers' routes are for customers
    assert (await client.get("/api/v1/me/meters", headers=dakar.headers)).status_code == 403


async def test_meters_require_authentication(client: AsyncClient, app: FastAPI) -> None:
    assert (await client.get("/api/v1/me/meters")).status_code == 401
    assert (
        await client.post("/api/v1/me/meters", json={"kind": "prepaid", "number": "1"})
    ).status_code == 401


async def test_pending_link_hides_the_holders_details_and_adds_are_rate_limited(
    client: AsyncClient, db: Database, settings: Settings, legacy_source: LegacySource
) -> None:
    curious = await make_user(db, settings)
    pending = (await _add(client, curious, "prepaid", g.OTHER_PREPAID_METER)).json()
    assert pending["status"] == "pending"
    assert pending["customer_name"] is None
    assert pending["address"] is None
    assert pending["poc"] is None
    statuses = [
        (await _add(client, curious, "prepaid", with_luhn("1999999999"))).status_code for _ in range(20)
    ]
    assert statuses[:19] == [404] * 19
    assert statuses[19] == 429


async def test_suggestions_from_my_phone_in_the_legacy_systems(
    client: AsyncClient, db: Database, settings: Settings, legacy_source: LegacySource
) -> None:
    awa = await make_user(db, settings, phone=g.DEMO_PHONE)
    r = await client.get("/api/v1/me/meters/suggestions", headers=awa.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "items": [
            {"kind": "prepaid", "number": g.DEMO_PREPAID_METER, "customer_name": "DIOP Awa"},
            {"kind": "postpaid", "number": g.DEMO_POSTPAID_CONTRACT, "customer_name": "DIOP Awa"},
        ],
        "next_cursor": None,
    }
    first = (await client.get("/api/v1/me/meters/suggestions?limit=1", headers=awa.headers)).json()
    assert [s["number"] for s in first["items"]] == [g.DEMO_PREPAID_METER]
    assert first["next_cursor"]
    second = (
        await client.get(
            "/api/v1/me/meters/suggestions",
            params={"limit": 1, "cursor": first["next_cursor"]},
            headers=awa.headers,
        )
    ).json()
    assert second == {"items": [r.json()["items"][1]], "next_cursor": None}
    assert (
        await client.get("/api/v1/me/meters/suggestions?limit=101", headers=awa.headers)
    ).status_code == 422
    await _add(client, awa, "prepaid", g.DEMO_PREPAID_METER)
    left = (await client.get("/api/v1/me/meters/suggestions", headers=awa.headers)).json()["items"]
    assert [s["number"] for s in left] == [g.DEMO_POSTPAID_CONTRACT]
    nobody = await make_user(db, settings)
    assert (await client.get("/api/v1/me/meters/suggestions", headers=nobody.headers)).json()["items"] == []
