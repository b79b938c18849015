"""The hot reads' response cache (issue 17): answers come from Redis, yet every change a user makes
or receives is visible on their next read, and what no hook sees lives at most the stated TTL."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import text

from samaconso.identity.models import Agency, Role
from samaconso.kit.db import Database
from samaconso.kit.freshness import ENTRY
from samaconso.kit.security import issue_access_token
from samaconso.settings import Settings
from tests.notifications.conftest import link_meter
from tests.support.settings import override
from tests.support.users import TestUser, make_user

FEED = "/api/v1/me/notifications?limit=20"
UNREAD = "/api/v1/me/notifications/unread-count"


def message(target: dict[str, Any], title_fr: str = "Coupure programmée") -> dict[str, Any]:
    return {
        "target": target,
        "type": "campaign",
        "title": {"fr": title_fr, "en": "Planned outage"},
        "body": {"fr": "Travaux demain.", "en": "Works tomorrow."},
    }


async def send(
    client: AsyncClient, staff: TestUser, target: dict[str, Any], title_fr: str = "Coupure"
) -> str:
    r = await client.post("/api/v1/notifications", json=message(target, title_fr), headers=staff.headers)
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


async def entries(app: FastAPI) -> int:
    return len([k async for k in app.state.redis.scan_iter(match=f"{ENTRY}*")])


async def test_a_hot_read_is_served_from_the_cache(
    app: FastAPI, client: AsyncClient, db: Database, settings: Settings
) -> None:
    alice = await make_user(db, settings, first_name="Awa")
    first = await client.get("/api/v1/me", headers=alice.headers)
    assert first.status_code == 200
    assert await entries(app) == 1
    # changed behind the API's back (no hook sees a raw UPDATE): the cached answer is still served
    async with db.engine.begin() as conn:
        await conn.execute(text("UPDATE users SET first_name = 'Binta' WHERE id = :id"), {"id": alice.id})
    again = await client.get("/api/v1/me", headers=alice.headers)
    assert again.status_code == 200
    assert again.json() == first.json()
    assert again.json()["first_name"] == "Awa"
    # the outer middlewares still apply to a cached answer
    assert again.headers["x-request-id"] != first.headers["x-request-id"]
    assert again.headers["content-language"] == "fr"
    assert again.headers["content-type"] == first.headers["content-type"]


async def test_a_changed_profile_is_visible_on_the_next_read(
    client: AsyncClient, db: Database, settings: Settings
) -> None:
    alice = await make_user(db, settings, first_name="Awa")
    assert (await client.get("/api/v1/me", headers=alice.headers)).json()["first_name"] == "Awa"
    r = await client.patch("/api/v1/me", json={"first_name": "Binta"}, headers=alice.headers)
    assert r.status_code == 200, r.text
    assert (await client.get("/api/v1/me", headers=alice.headers)).json()["first_name"] == "Binta"


async def test_each_user_and_language_has_its_own_answer(
    client: AsyncClient, db: Database, settings: Settings
) -> None:
    admin = await make_user(db, settings, Role.admin)
    alice = await make_user(db, settings)
    bob = await make_user(db, settings)
    await send(client, admin, {"kind": "user", "user_id": str(alice.id)})
    fr = (await client.get(FEED, headers=alice.headers)).json()
    en = (await client.get(FEED, headers={**alice.headers, "Accept-Language": "en"})).json()
    assert fr["items"][0]["title"] == "Coupure"
    assert en["items"][0]["title"] == "Planned outage"
    assert (await client.get(FEED, headers=bob.headers)).json()["items"] == []
    assert (await client.get("/api/v1/me", headers=bob.headers)).json()["id"] == str(bob.id)
    assert (await client.get("/api/v1/me", headers=alice.headers)).json()["id"] == str(alice.id)


async def test_a_new_notification_and_a_read_receipt_are_visible_on_the_next_read(
    client: AsyncClient, db: Database, settings: Settings
) -> None:
    admin = await make_user(db, settings, Role.admin)
    alice = await make_user(db, settings)
    assert (await client.get(UNREAD, headers=alice.headers)).json()["unread"] == 0
    assert (await client.get(FEED, headers=alice.headers)).json()["items"] == []

    nid = await send(client, admin, {"kind": "user", "user_id": str(alice.id)}, "Votre demande")
    assert (await client.get(UNREAD, headers=alice.headers)).json()["unread"] == 1
    feed = (await client.get(FEED, headers=alice.headers)).json()["items"]
    assert [(i["id"], i["read"]) for i in feed] == [(nid, False)]

    r = await client.post(f"/api/v1/me/notifications/{nid}/read", headers=alice.headers)
    assert r.status_code == 204
    assert (await client.get(UNREAD, headers=alice.headers)).json()["unread"] == 0
    feed = (await client.get(FEED, headers=alice.headers)).json()["items"]
    assert [(i["id"], i["read"]) for i in feed] == [(nid, True)]

    second = await send(client, admin, {"kind": "user", "user_id": str(alice.id)}, "Encore")
    assert (await client.get(UNREAD, headers=alice.headers)).json()["unread"] == 1
    r = await client.post("/api/v1/me/notifications/read-all", headers=alice.headers)
    assert r.status_code == 204
    assert (await client.get(UNREAD, headers=alice.headers)).json()["unread"] == 0
    r = await client.delete(f"/api/v1/me/notifications/{second}", headers=alice.headers)
    assert r.status_code == 204
    assert [i["id"] for i in (await client.get(FEED, headers=alice.headers)).json()["items"]] == [nid]


async def test_a_broadcast_and_its_withdrawal_are_visible_on_the_next_read(
    client: AsyncClient, db: Database, settings: Settings
) -> None:
    admin = await make_user(db, settings, Role.admin)
    alice = await make_user(db, settings)
    bob = await make_user(db, settings)
    for user in (alice, bob):
        assert (await client.get(UNREAD, headers=user.headers)).json()["unread"] == 0
    nid = await send(client, admin, {"kind": "everyone"}, "Maintenance")
    for user in (alice, bob):
        assert (await client.get(UNREAD, headers=user.headers)).json()["unread"] == 1
        assert [i["id"] for i in (await client.get(FEED, headers=user.headers)).json()["items"]] == [nid]
    r = await client.post(f"/api/v1/notifications/{nid}/withdraw", headers=admin.headers)
    assert r.status_code == 200, r.text
    for user in (alice, bob):
        assert (await client.get(UNREAD, headers=user.headers)).json()["unread"] == 0
        assert (await client.get(FEED, headers=user.headers)).json()["items"] == []


async def test_a_broadcast_leaves_the_other_hot_reads_cached(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    """After a national push everyone opens the app: only the feed and its count are read anew."""
    admin = await make_user(db, settings, Role.admin)
    alice = await make_user(db, settings, first_name="Awa")
    me = (await client.get("/api/v1/me", headers=alice.headers)).json()
    assert (await client.get(UNREAD, headers=alice.headers)).json()["unread"] == 0
    # changed behind the API's back (no hook sees it): a read served from the cache still says Awa
    async with db.engine.begin() as conn:
        await conn.execute(text("UPDATE users SET first_name = 'Binta' WHERE id = :id"), {"id": alice.id})
    await send(client, admin, {"kind": "everyone"}, "Maintenance")
    assert (await client.get(UNREAD, headers=alice.headers)).json()["unread"] == 1  # the feed: anew
    assert (await client.get("/api/v1/me", headers=alice.headers)).json() == me  # still the entry
    assert me["first_name"] == "Awa"
    # a change every hot read may show (an agency renamed) still reaches them all
    async with db.sessionmaker.begin() as session:
        agency = await session.get(Agency, next(iter(agencies.values())).id)
        assert agency is not None
        agency.name = agency.name + " (nouveau nom)"
    assert (await client.get("/api/v1/me", headers=alice.headers)).json()["first_name"] == "Binta"


async def test_a_new_link_is_visible_on_the_next_read(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    alice = await make_user(db, settings)
    assert (await client.get("/api/v1/me/meters", headers=alice.headers)).json()["items"] == []
    meter_id = await link_meter(db, alice.id, agencies["DKC"].id)
    items = (await client.get("/api/v1/me/meters", headers=alice.headers)).json()["items"]
    assert [i["id"] for i in items] == [str(meter_id)]
    # a notification to the meter's agency reaches her feed (she is now in its audience)
    admin = await make_user(db, settings, Role.admin)
    assert (await client.get(FEED, headers=alice.headers)).json()["items"] == []
    nid = await send(client, admin, {"kind": "agency", "agency_id": str(agencies["DKC"].id)})
    assert [i["id"] for i in (await client.get(FEED, headers=alice.headers)).json()["items"]] == [nid]


async def test_a_revoked_session_gets_no_cached_answer(
    client: AsyncClient, db: Database, settings: Settings
) -> None:
    alice = await make_user(db, settings)
    assert (await client.get("/api/v1/me", headers=alice.headers)).status_code == 200
    assert (await client.get(FEED, headers=alice.headers)).status_code == 200
    r = await client.post("/api/v1/auth/logout", headers=alice.headers)
    assert r.status_code == 204
    for path in ("/api/v1/me", FEED):
        refused = await client.get(path, headers=alice.headers)
        assert refused.status_code == 401
        assert refused.headers["content-type"].startswith("application/problem+json")
    # no token, a wrong token: the route's own refusal, never a cached answer
    assert (await client.get("/api/v1/me")).status_code == 401
    assert (await client.get("/api/v1/me", headers={"Authorization": "Bearer nope"})).status_code == 401


async def test_errors_are_not_cached(client: AsyncClient, db: Database, settings: Settings) -> None:
    alice = await make_user(db, settings)
    other = uuid.uuid4()
    for _ in range(2):
        r = await client.get(f"/api/v1/me/meters/{other}/summary", headers=alice.headers)
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("application/problem+json")
    bad = await client.get("/api/v1/me/notifications?limit=20&colour=red", headers=alice.headers)
    assert bad.status_code == 400
    assert bad.json()["code"] == "unknown_query_parameter"


@pytest.mark.settings(response_cache_ttl_s=1)
async def test_what_no_hook_sees_is_visible_within_the_stated_ttl(
    client: AsyncClient, db: Database, settings: Settings
) -> None:
    alice = await make_user(db, settings, first_name="Awa")
    assert (await client.get("/api/v1/me", headers=alice.headers)).json()["first_name"] == "Awa"
    async with db.engine.begin() as conn:
        await conn.execute(text("UPDATE users SET first_name = 'Binta' WHERE id = :id"), {"id": alice.id})
    assert (await client.get("/api/v1/me", headers=alice.headers)).json()["first_name"] == "Awa"
    await asyncio.sleep(settings.response_cache_ttl_s + 0.2)
    assert (await client.get("/api/v1/me", headers=alice.headers)).json()["first_name"] == "Binta"


@pytest.mark.settings(response_cache_ttl_s=0)
async def test_the_cache_can_be_turned_off(
    app: FastAPI, client: AsyncClient, db: Database, settings: Settings
) -> None:
    alice = await make_user(db, settings)
    assert (await client.get("/api/v1/me", headers=alice.headers)).status_code == 200
    assert await entries(app) == 0


async def test_without_accept_language_the_profile_language_is_followed(
    client: AsyncClient, db: Database, settings: Settings
) -> None:
    admin = await make_user(db, settings, Role.admin)
    alice = await make_user(db, settings)
    await send(client, admin, {"kind": "user", "user_id": str(alice.id)})
    assert (await client.get(FEED, headers=alice.headers)).json()["items"][0]["title"] == "Coupure"
    r = await client.patch("/api/v1/me", json={"language": "en"}, headers=alice.headers)
    assert r.status_code == 200, r.text
    english = await client.get(FEED, headers=alice.headers)
    assert english.json()["items"][0]["title"] == "Planned outage"
    assert english.headers["content-language"] == "en"
    r = await client.patch("/api/v1/me", json={"language": "fr"}, headers=alice.headers)
    assert r.status_code == 200, r.text
    assert (await client.get(FEED, headers=alice.headers)).json()["items"][0]["title"] == "Coupure"


async def test_a_token_past_its_lifetime_gets_no_cached_answer(
    client: AsyncClient, db: Database, settings: Settings
) -> None:
    alice = await make_user(db, settings)
    token = issue_access_token(
        override(settings, access_token_ttl_s=2),
        user_id=alice.id,
        session_id=alice.session_id,
        role="customer",
    )
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200  # verified once, cached
    await asyncio.sleep(2.2)
    expired = await client.get("/api/v1/me", headers=headers)
    assert expired.status_code == 401
    assert expired.json()["code"] == "token_expired"


@pytest.mark.settings(response_cache_ttl_s=60)
async def test_entries_written_together_do_not_expire_together(
    app: FastAPI, client: AsyncClient, db: Database, settings: Settings
) -> None:
    # the burst after a broadcast: many callers' answers cached in the same second
    users = [await make_user(db, settings, first_name=f"Awa{i}") for i in range(24)]
    for user in users:
        assert (await client.get("/api/v1/me", headers=user.headers)).status_code == 200
    ttls = [await app.state.redis.ttl(k) async for k in app.state.redis.scan_iter(f"{ENTRY}*")]
    assert len(ttls) == len(users)
    # never longer than the stated staleness, never below three quarters of it, and spread out
    assert all(45 <= t <= 60 for t in ttls)
    assert len(set(ttls)) > 1
    # the sessions' cached states alike, within the revocation check period
    check = settings.session_revocation_check_s
    states = [await app.state.redis.ttl(k) async for k in app.state.redis.scan_iter("authsess:*")]
    assert len(states) == len(users)
    assert all(check * 3 // 4 <= t <= check for t in states)
    assert len(set(states)) > 1
