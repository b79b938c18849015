"""Complaints you can follow: a short reference shown everywhere and searchable by staff, the
deadline visible to the customer, reopening within 14 days, a rating once resolved, ratings in
the dashboard."""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import text

from samaconso.identity.models import Agency, Role
from samaconso.kit.db import Database
from samaconso.settings import Settings
from tests.requests.helpers import link, make_meter, seed_types
from tests.support.users import make_user

API = "/api/v1"


async def _resolved(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> dict[str, Any]:
    await seed_types(db, settings)
    customer = await make_user(db, settings, Role.customer)
    agent = await make_user(db, settings, Role.agent, agency_id=agencies["DKC"].id)
    meter = await make_meter(db, agency_id=agencies["DKC"].id)
    await link(db, customer.id, meter, is_default=True)
    r = await client.post(
        f"{API}/me/requests",
        json={"type": "coupure_panne", "comment": "Plus de courant depuis ce matin.", "meter_id": str(meter)},
        headers=customer.headers,
    )
    assert r.status_code == 201, r.text
    created = r.json()
    rid = created["id"]
    await client.patch(f"{API}/requests/{rid}", json={"status": "in_progress"}, headers=agent.headers)
    done = await client.patch(
        f"{API}/requests/{rid}",
        json={"status": "resolved", "comment": "Disjoncteur réarmé."},
        headers=agent.headers,
    )
    assert done.status_code == 200, done.text
    return {"customer": customer, "agent": agent, "created": created, "id": rid}


async def _close_days_ago(db: Database, rid: str, days: int) -> None:
    async with db.sessionmaker() as session:
        await session.execute(
            text("UPDATE customer_requests SET closed_at = now() - make_interval(days => :d) WHERE id = :i"),
            {"d": days, "i": uuid.UUID(rid)},
        )
        await session.commit()


async def test_reference_and_due_date_are_shown_and_staff_find_the_request_by_reference(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    s = await _resolved(client, db, settings, agencies)
    customer, agent, created = s["customer"], s["agent"], s["created"]
    ref = created["reference"]
    assert re.fullmatch(r"DKC-20\d\d-\d{6}", ref), ref
    assert created["due_at"] > created["created_at"]  # the SLA, visible to the customer
    mine = (await client.get(f"{API}/me/requests", headers=customer.headers)).json()["items"]
    assert [(i["reference"], i["due_at"]) for i in mine] == [(ref, created["due_at"])]

    # staff search: exact reference, case does not matter; another agency's agent finds nothing
    found = await client.get(f"{API}/requests", params={"reference": ref.lower()}, headers=agent.headers)
    assert found.status_code == 200
    assert [i["id"] for i in found.json()["items"]] == [s["id"]]
    other = await make_user(db, settings, Role.agent, agency_id=agencies["THS"].id)
    assert (await client.get(f"{API}/requests", params={"reference": ref}, headers=other.headers)).json()[
        "items"
    ] == []

    # the reference is in the customer's notifications
    feed = (await client.get(f"{API}/me/notifications", headers=customer.headers)).json()["items"]
    assert any(ref in i["body"] for i in feed if i["type"] == "request_updated")

    # two requests never share a reference
    second = await client.post(
        f"{API}/me/requests",
        json={"type": "coupure_panne", "comment": "Encore une coupure."},
        headers=customer.headers,
    )
    assert second.json()["reference"] != ref


async def test_customer_reopens_within_14_days_only(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    s = await _resolved(client, db, settings, agencies)
    customer, rid = s["customer"], s["id"]
    detail = (await client.get(f"{API}/me/requests/{rid}", headers=customer.headers)).json()
    assert detail["reopen_until"] is not None
    assert detail["reopen_until"] > detail["closed_at"]

    short = await client.post(
        f"{API}/me/requests/{rid}/reopen", json={"reason": ""}, headers=customer.headers
    )
    assert short.status_code == 422
    r = await client.post(
        f"{API}/me/requests/{rid}/reopen",
        json={"reason": "Toujours pas de courant."},
        headers=customer.headers,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "in_progress"
    assert body["closed_at"] is None
    assert body["reopen_until"] is None
    assert body["reopen_count"] == 1
    assert body["history"][-1] == {
        "at": body["history"][-1]["at"],
        "from_status": "resolved",
        "to_status": "in_progress",
        "by": "customer",
        "comment": "Toujours pas de courant.",
    }
    # the customer can write again, the agent sees it back in the queue
    assert (
        await client.post(
            f"{API}/me/requests/{rid}/comments", json={"body": "Merci"}, headers=customer.headers
        )
    ).status_code == 201
    queue = await client.get(f"{API}/requests", params={"status": "in_progress"}, headers=s["agent"].headers)
    assert rid in [i["id"] for i in queue.json()["items"]]
    # an open request cannot be reopened
    again = await client.post(
        f"{API}/me/requests/{rid}/reopen", json={"reason": "encore"}, headers=customer.headers
    )
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"

    # resolved again, 15 days ago: too late, in English too
    await client.patch(
        f"{API}/requests/{rid}",
        json={"status": "resolved", "comment": "Câble remplacé."},
        headers=s["agent"].headers,
    )
    await _close_days_ago(db, rid, 15)
    late = await client.post(
        f"{API}/me/requests/{rid}/reopen",
        json={"reason": "Toujours pas."},
        headers={**customer.headers, "Accept-Language": "en"},
    )
    assert late.status_code == 409
    assert late.headers["content-type"].startswith("application/problem+json")
    assert late.json()["code"] == "reopen_window_passed"
    assert "14 days" in late.json()["detail"]
    # someone else's request: not found
    stranger = await make_user(db, settings, Role.customer)
    assert (
        await client.post(
            f"{API}/me/requests/{rid}/reopen", json={"reason": "abcd"}, headers=stranger.headers
        )
    ).status_code == 404


async def test_rating_once_resolved_once_per_resolution_and_in_the_dashboard(
    app: FastAPI, client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    s = await _resolved(client, db, settings, agencies)
    customer, rid = s["customer"], s["id"]
    admin = await make_user(db, settings, Role.admin)
    before = (
        await client.get(
            f"{API}/dashboard", params={"agency": str(agencies["DKC"].id)}, headers=admin.headers
        )
    ).json()

    bad = await client.post(f"{API}/me/requests/{rid}/rating", json={"score": 6}, headers=customer.headers)
    assert bad.status_code == 422
    r = await client.post(
        f"{API}/me/requests/{rid}/rating",
        json={"score": 2, "comment": "Trop long."},
        headers=customer.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["rating"]["score"] == 2
    assert r.json()["rating"]["comment"] == "Trop long."
    twice = await client.post(f"{API}/me/requests/{rid}/rating", json={"score": 5}, headers=customer.headers)
    assert twice.status_code == 409
    assert twice.json()["code"] == "already_rated"
    staff = (await client.get(f"{API}/requests/{rid}", headers=s["agent"].headers)).json()
    assert staff["rating"]["score"] == 2

    # not resolved yet: no rating
    open_one = await client.post(
        f"{API}/me/requests",
        json={"type": "coupure_panne", "comment": "Encore une coupure."},
        headers=customer.headers,
    )
    early = await client.post(
        f"{API}/me/requests/{open_one.json()['id']}/rating", json={"score": 4}, headers=customer.headers
    )
    assert early.status_code == 409
    assert early.json()["code"] == "not_resolved"

    # reopened and resolved again: a new resolution can be rated
    await client.post(f"{API}/me/requests/{rid}/reopen", json={"reason": "Revenu."}, headers=customer.headers)
    await client.patch(
        f"{API}/requests/{rid}", json={"status": "resolved", "comment": "Réparé."}, headers=s["agent"].headers
    )
    r2 = await client.post(f"{API}/me/requests/{rid}/rating", json={"score": 5}, headers=customer.headers)
    assert r2.status_code == 200, r2.text

    await _invalidate_dashboard_cache(app)
    after = (
        await client.get(
            f"{API}/dashboard", params={"agency": str(agencies["DKC"].id)}, headers=admin.headers
        )
    ).json()
    ratings, previous = after["requests"]["ratings"], before["requests"]["ratings"]
    assert ratings["count"] == previous["count"] + 1
    assert ratings["by_score"]["5"] == previous["by_score"]["5"] + 1
    assert ratings["average"] is not None
    assert 1 <= ratings["average"] <= 5


async def _invalidate_dashboard_cache(app: FastAPI) -> None:
    cache = app.state.cache
    for key in await cache.redis.keys(f"{cache.prefix}dashboard:*"):
        await cache.redis.delete(key)
