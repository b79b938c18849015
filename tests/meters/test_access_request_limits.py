"""Issue 12, point 6 (people used as targets): asking to follow someone else's meter cannot be
turned into a way to harass its owner. One pending request per requester and meter, a cool-down
after the owner refuses or removes someone, a cap of pending requests per owner, and the owner is
pushed once per cool-down however often the meter is removed and added again."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from httpx import AsyncClient, Response
from sqlalchemy import text

from samaconso.kit.db import Database
from samaconso.legacy import generator as g
from samaconso.settings import Settings
from tests.support.legacy import LegacySource
from tests.support.users import TestUser, make_user

DAY_S = 86400


async def _add(
    client: AsyncClient, user: TestUser, number: str = g.OTHER_PREPAID_METER, **headers: str
) -> Response:
    kind = "postpaid" if number == g.OTHER_POSTPAID_CONTRACT else "prepaid"
    return await client.post(
        "/api/v1/me/meters", json={"kind": kind, "number": number}, headers={**user.headers, **headers}
    )


async def _pushes(client: AsyncClient, owner: TestUser) -> int:
    r = await client.get("/api/v1/me/notifications?limit=100", headers=owner.headers)
    assert r.status_code == 200, r.text
    return sum(1 for n in r.json()["items"] if n["type"] == "meter_access_requested")


async def _pending(client: AsyncClient, owner: TestUser) -> list[dict[str, Any]]:
    r = await client.get("/api/v1/me/meter-access-requests?limit=100", headers=owner.headers)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


_SHIFTS = {
    column: text(
        f"UPDATE meter_links SET {column} = {column} - make_interval(secs => :s) "  # noqa: S608 - fixed names
        f"WHERE user_id = :u AND {column} IS NOT NULL"
    )
    for column in ("decided_at", "owner_notified_at")
}


async def _shift(db: Database, column: str, user_id: uuid.UUID, seconds: int) -> None:
    """Move the user's link times back, as if ``seconds`` had passed."""
    async with db.sessionmaker() as session:
        await session.execute(_SHIFTS[column], {"s": seconds, "u": user_id})
        await session.commit()


async def test_removing_and_adding_again_pushes_the_owner_once_per_cool_down(
    client: AsyncClient, db: Database, settings: Settings, legacy_source: LegacySource
) -> None:
    owner = await make_user(db, settings, phone=g.OTHER_OWNER_PHONE)
    requester = await make_user(db, settings)
    first = await _add(client, requester)
    assert first.status_code == 201, first.text
    # one pending request per requester and meter, with its own code
    twice = await _add(client, requester)
    assert twice.status_code == 409
    assert twice.headers["content-type"].startswith("application/problem+json")
    assert twice.json()["code"] == "access_request_pending"
    assert "attend déjà" in twice.json()["detail"]

    # the attack of the issue: remove and add again, five times in a row
    meter_id = first.json()["id"]
    for _ in range(4):
        gone = await client.delete(f"/api/v1/me/meters/{meter_id}", headers=requester.headers)
        assert gone.status_code == 204
        again = await _add(client, requester)
        assert again.status_code == 201, again.text
        assert again.json()["status"] == "pending"
    assert await _pushes(client, owner) == 1
    # the owner still sees the one request that is waiting, and can answer it
    assert [r["requester"]["user_id"] for r in await _pending(client, owner)] == [str(requester.id)]

    # once the cool-down has passed, a new request is pushed again
    await _shift(db, "owner_notified_at", requester.id, settings.meter_request_notify_cooldown_s + 60)
    assert (
        await client.delete(f"/api/v1/me/meters/{meter_id}", headers=requester.headers)
    ).status_code == 204
    assert (await _add(client, requester)).status_code == 201
    assert await _pushes(client, owner) == 2


async def test_refused_requester_cannot_ask_again_within_the_cool_down(
    client: AsyncClient, db: Database, settings: Settings, legacy_source: LegacySource
) -> None:
    owner = await make_user(db, settings, phone=g.OTHER_OWNER_PHONE)
    requester = await make_user(db, settings)
    assert (await _add(client, requester)).status_code == 201
    [request] = await _pending(client, owner)
    refused = await client.post(
        f"/api/v1/me/meter-access-requests/{request['id']}/refuse", headers=owner.headers
    )
    assert refused.status_code == 200

    again = await _add(client, requester)
    assert again.status_code == 429
    assert again.json()["code"] == "access_request_cooldown"
    wait = int(again.headers["Retry-After"])
    assert DAY_S - 120 <= wait <= DAY_S
    english = await _add(client, requester, **{"Accept-Language": "en"})
    assert english.status_code == 429
    assert english.json()["detail"].startswith("The owner recently refused")
    assert await _pending(client, owner) == []
    assert await _pushes(client, owner) == 1

    # the cool-down is counted from the refusal: an hour later, an hour less to wait
    await _shift(db, "decided_at", requester.id, 3600)
    later = await _add(client, requester)
    assert later.status_code == 429
    assert wait - 3600 - 120 <= int(later.headers["Retry-After"]) <= wait - 3600
    # a day after the refusal the requester may ask again (and the owner is told again)
    await _shift(db, "decided_at", requester.id, DAY_S)
    await _shift(db, "owner_notified_at", requester.id, 2 * DAY_S)
    ok = await _add(client, requester)
    assert ok.status_code == 201, ok.text
    assert ok.json()["status"] == "pending"
    assert await _pushes(client, owner) == 2


@pytest.mark.settings(meter_request_removal_cooldown_s=600)
async def test_removed_member_waits_but_leaving_on_your_own_does_not(
    client: AsyncClient, db: Database, settings: Settings, legacy_source: LegacySource
) -> None:
    owner = await make_user(db, settings, phone=g.OTHER_OWNER_PHONE)
    member = await make_user(db, settings)
    leaver = await make_user(db, settings)
    for who in (member, leaver):
        assert (await _add(client, who)).status_code == 201
    for request in await _pending(client, owner):
        ok = await client.post(
            f"/api/v1/me/meter-access-requests/{request['id']}/approve", headers=owner.headers
        )
        assert ok.status_code == 200
    meter_id = (await client.get("/api/v1/me/meters", headers=member.headers)).json()["items"][0]["id"]

    # the owner removes the member: no new request at once (the setting says for how long)
    removed = await client.delete(f"/api/v1/me/meters/{meter_id}/members/{member.id}", headers=owner.headers)
    assert removed.status_code == 204
    back = await _add(client, member)
    assert back.status_code == 429
    assert back.json()["code"] == "access_request_cooldown"
    assert 480 <= int(back.headers["Retry-After"]) <= 600

    # leaving on one's own is no refusal: the leaver may ask again (the owner is not pushed again)
    assert (await client.delete(f"/api/v1/me/meters/{meter_id}", headers=leaver.headers)).status_code == 204
    rejoin = await _add(client, leaver)
    assert rejoin.status_code == 201, rejoin.text
    assert rejoin.json()["status"] == "pending"
    assert await _pushes(client, owner) == 2  # one per requester

    await _shift(db, "decided_at", member.id, 601)
    assert (await _add(client, member)).status_code == 201


@pytest.mark.settings(meter_pending_requests_per_owner=3)
async def test_an_owner_holds_a_bounded_number_of_pending_requests(
    client: AsyncClient, db: Database, settings: Settings, legacy_source: LegacySource
) -> None:
    owner = await make_user(db, settings, phone=g.OTHER_OWNER_PHONE)
    # the cap counts every meter of the owner: two on the Woyofal meter, one on the contract
    crowd = [await make_user(db, settings) for _ in range(4)]
    numbers = [g.OTHER_PREPAID_METER, g.OTHER_PREPAID_METER, g.OTHER_POSTPAID_CONTRACT]
    for who, number in zip(crowd, numbers, strict=False):
        assert (await _add(client, who, number)).status_code == 201
    full = await _add(client, crowd[3])
    assert full.status_code == 409
    assert full.json()["code"] == "access_requests_full"
    assert "trop de demandes en attente" in full.json()["detail"]
    assert len(await _pending(client, owner)) == 3
    assert await _pushes(client, owner) == 3

    # once the owner answers one, the next requester gets through
    first = (await _pending(client, owner))[0]
    assert (
        await client.post(f"/api/v1/me/meter-access-requests/{first['id']}/refuse", headers=owner.headers)
    ).status_code == 200
    assert (await _add(client, crowd[3])).status_code == 201
    assert len(await _pending(client, owner)) == 3
