"""Notifications HTTP API as staff and customers see it (no worker needed: delivery is async)."""

from __future__ import annotations

import uuid
from typing import Any

from httpx import AsyncClient
from sqlalchemy import func, select

from samaconso.identity.models import Agency, Role
from samaconso.kit.db import Database
from samaconso.notifications import service
from samaconso.notifications.models import Notification, NotificationAudience, OutboxJob
from samaconso.settings import Settings
from tests.notifications.conftest import link_meter
from tests.support.users import make_user


def payload(target: dict[str, Any], type_: str = "campaign", **extra: Any) -> dict[str, Any]:
    return {
        "target": target,
        "type": type_,
        "title": {"fr": "Coupure programmée", "en": "Planned outage"},
        "body": {"fr": "Travaux demain de 9h à 12h.", "en": "Works tomorrow 9am-12pm."},
        "data": {"link": "samaconso://outages/1"},
        **extra,
    }


async def count(db: Database, model: Any) -> int:
    async with db.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_direct_message_feed_read_hide(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    admin = await make_user(db, settings, Role.admin)
    alice = await make_user(db, settings)
    bob = await make_user(db, settings)
    r = await client.post(
        "/api/v1/notifications",
        json=payload({"kind": "user", "user_id": str(alice.id)}, "request_updated"),
        headers=admin.headers,
    )
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["priority"] == "high"
    assert body["queue"] == "high_priority"
    nid = body["id"]

    feed = (await client.get("/api/v1/me/notifications", headers=alice.headers)).json()
    assert [i["id"] for i in feed["items"]] == [nid]
    item = feed["items"][0]
    assert item["title"] == "Coupure programmée"
    assert item["read"] is False
    assert item["data"]["link"] == "samaconso://outages/1"
    assert item["data"]["type"] == "request_updated"
    assert item["created_at"].endswith(("+00:00", "Z"))
    en = (
        await client.get("/api/v1/me/notifications", headers={**alice.headers, "Accept-Language": "en"})
    ).json()
    assert en["items"][0]["title"] == "Planned outage"

    assert (await client.get("/api/v1/me/notifications", headers=bob.headers)).json()["items"] == []
    assert (await client.post(f"/api/v1/me/notifications/{nid}/read", headers=bob.headers)).status_code == 404
    assert (await client.delete(f"/api/v1/me/notifications/{nid}", headers=bob.headers)).status_code == 404

    unread = (await client.get("/api/v1/me/notifications/unread-count", headers=alice.headers)).json()
    assert unread == {"unread": 1, "capped": False}
    assert (
        await client.post(f"/api/v1/me/notifications/{nid}/read", headers=alice.headers)
    ).status_code == 204
    assert (await client.get("/api/v1/me/notifications/unread-count", headers=alice.headers)).json()[
        "unread"
    ] == 0
    assert (await client.get("/api/v1/me/notifications", headers=alice.headers)).json()["items"][0][
        "read"
    ] is True

    assert (await client.delete(f"/api/v1/me/notifications/{nid}", headers=alice.headers)).status_code == 204
    assert (await client.get("/api/v1/me/notifications", headers=alice.headers)).json()["items"] == []
    assert (
        await client.post(f"/api/v1/me/notifications/{nid}/read", headers=alice.headers)
    ).status_code == 404


async def test_broadcast_is_one_row_with_per_user_read_state(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    admin = await make_user(db, settings, Role.admin)
    users = [await make_user(db, settings) for _ in range(3)]
    r = await client.post("/api/v1/notifications", json=payload({"kind": "everyone"}), headers=admin.headers)
    assert r.status_code == 202
    assert r.json()["queue"] == "low_priority"
    nid = r.json()["id"]
    assert await count(db, Notification) == 1
    assert await count(db, NotificationAudience) == 1
    assert await count(db, OutboxJob) == 1
    for u in users:
        items = (await client.get("/api/v1/me/notifications", headers=u.headers)).json()["items"]
        assert [i["id"] for i in items] == [nid]
    await client.post(f"/api/v1/me/notifications/{nid}/read", headers=users[0].headers)
    reads = [
        (await client.get("/api/v1/me/notifications", headers=u.headers)).json()["items"][0]["read"]
        for u in users
    ]
    assert reads == [True, False, False]
    await client.delete(f"/api/v1/me/notifications/{nid}", headers=users[1].headers)
    assert (await client.get("/api/v1/me/notifications", headers=users[1].headers)).json()["items"] == []
    assert len((await client.get("/api/v1/me/notifications", headers=users[2].headers)).json()["items"]) == 1


async def test_agency_meter_and_outage_targets(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    dkc, ths = agencies["DKC"], agencies["THS"]
    admin = await make_user(db, settings, Role.admin)
    agent = await make_user(db, settings, Role.agent, agency_id=dkc.id)
    in_dkc = await make_user(db, settings)
    in_ths = await make_user(db, settings)
    no_meter = await make_user(db, settings)
    dkc_meter = await link_meter(db, in_dkc.id, dkc.id)
    await link_meter(db, in_ths.id, ths.id)

    async def ids(user: Any) -> set[str]:
        items = (await client.get("/api/v1/me/notifications", headers=user.headers)).json()["items"]
        return {i["id"] for i in items}

    agency_n = (
        await client.post("/api/v1/notifications", json=payload({"kind": "agency"}), headers=agent.headers)
    ).json()["id"]
    meter_n = (
        await client.post(
            "/api/v1/notifications",
            json=payload({"kind": "meter", "meter_id": str(dkc_meter)}, "bill_available"),
            headers=agent.headers,
        )
    ).json()["id"]
    outage = await client.post(
        "/api/v1/notifications",
        json=payload({"kind": "outage", "agency_ids": [str(dkc.id), str(ths.id)]}, "outage"),
        headers=admin.headers,
    )
    assert outage.json()["queue"] == "urgent"
    all_n = (
        await client.post(
            "/api/v1/notifications", json=payload({"kind": "all_agencies"}), headers=admin.headers
        )
    ).json()["id"]

    assert await ids(in_dkc) == {agency_n, meter_n, outage.json()["id"], all_n}
    assert await ids(in_ths) == {outage.json()["id"], all_n}
    assert await ids(no_meter) == set()

    # Agents stay in their agency; customers may not send.
    for target in (
        {"kind": "agency", "agency_id": str(ths.id)},
        {"kind": "outage", "agency_ids": [str(ths.id)]},
        {"kind": "everyone"},
        {"kind": "all_agencies"},
    ):
        r = await client.post("/api/v1/notifications", json=payload(target), headers=agent.headers)
        assert r.status_code == 403, target
    r = await client.post(
        "/api/v1/notifications",
        json=payload({"kind": "user", "user_id": str(in_ths.id)}),
        headers=agent.headers,
    )
    assert r.status_code == 404
    r = await client.post("/api/v1/notifications", json=payload({"kind": "everyone"}), headers=in_dkc.headers)
    assert r.status_code == 403
    r = await client.post("/api/v1/notifications", json=payload({"kind": "everyone"}))
    assert r.status_code == 401
    bad = payload({"kind": "everyone"})
    bad["title"] = {"fr": "x"}
    assert (await client.post("/api/v1/notifications", json=bad, headers=admin.headers)).status_code == 422

    # Stats: the agent sees their agency's notifications, not national ones.
    assert (await client.get(f"/api/v1/notifications/{agency_n}", headers=agent.headers)).status_code == 200
    assert (await client.get(f"/api/v1/notifications/{all_n}", headers=agent.headers)).status_code == 404
    assert (
        await client.get(f"/api/v1/notifications/{uuid.uuid4()}", headers=admin.headers)
    ).status_code == 404
    assert (await client.get(f"/api/v1/notifications/{all_n}", headers=in_dkc.headers)).status_code == 403


async def test_idempotency_key(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    admin = await make_user(db, settings, Role.admin)
    headers = {**admin.headers, "Idempotency-Key": "campaign-2026-11-25"}
    first = await client.post("/api/v1/notifications", json=payload({"kind": "everyone"}), headers=headers)
    second = await client.post("/api/v1/notifications", json=payload({"kind": "everyone"}), headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    assert await count(db, Notification) == 1
    assert await count(db, OutboxJob) == 1
    other = await client.post(
        "/api/v1/notifications",
        json=payload({"kind": "everyone"}),
        headers={**admin.headers, "Idempotency-Key": "other"},
    )
    assert other.json()["id"] != first.json()["id"]
    # After 24 h the key may be used again for a new send.
    async with db.sessionmaker() as session:
        n = await session.get(Notification, uuid.UUID(first.json()["id"]))
        assert n is not None
        n.created_at = n.created_at.replace(year=n.created_at.year - 1)
        await session.commit()
    third = await client.post("/api/v1/notifications", json=payload({"kind": "everyone"}), headers=headers)
    assert third.status_code == 202
    assert third.json()["id"] != first.json()["id"]


async def test_feed_pagination_unread_and_read_all(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    admin = await make_user(db, settings, Role.admin)
    alice = await make_user(db, settings)
    await link_meter(db, alice.id, agencies["DKC"].id)
    created: list[str] = []
    for i in range(13):
        target = (
            {"kind": "user", "user_id": str(alice.id)}
            if i % 2
            else {"kind": "agency", "agency_id": str(agencies["DKC"].id)}
        )
        created.append(
            (await client.post("/api/v1/notifications", json=payload(target), headers=admin.headers)).json()[
                "id"
            ]
        )
    # notify_user (the contract other domains use) lands in the same feed
    async with db.sessionmaker() as session:
        nid = await service.notify_user(
            session,
            user_id=alice.id,
            type="meter_access_granted",
            title_fr="Accès accordé",
            body_fr="b",
            title_en="Access granted",
            body_en="b",
        )
        await session.commit()
    created.append(str(nid))
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 5}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/me/notifications", params=params, headers=alice.headers)).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(created))
    assert (await client.get("/api/v1/me/notifications/unread-count", headers=alice.headers)).json()[
        "unread"
    ] == 14
    assert (await client.post("/api/v1/me/notifications/read-all", headers=alice.headers)).status_code == 204
    assert (await client.get("/api/v1/me/notifications/unread-count", headers=alice.headers)).json()[
        "unread"
    ] == 0
    items = (
        await client.get("/api/v1/me/notifications", params={"limit": 100}, headers=alice.headers)
    ).json()["items"]
    assert all(i["read"] for i in items)
    r = await client.get("/api/v1/me/notifications", params={"cursor": "garbage"}, headers=alice.headers)
    assert r.status_code == 400
    assert (await client.get("/api/v1/me/notifications")).status_code == 401
