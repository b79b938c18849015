"""Issue 12, point 6: a request's conversation is bounded and its timeline paginated. Before, a
request took unlimited 4 000-character comments and returned its whole history on every call
(244 KB after 60 comments)."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient

from samaconso.identity.models import Agency, Role
from samaconso.kit.db import Database
from samaconso.requests import service
from samaconso.settings import Settings
from tests.requests.helpers import link, make_meter, seed_types, write_comments
from tests.support.users import TestUser, make_user

API = "/api/v1"


async def _people(db: Database, settings: Settings, agencies: dict[str, Agency]) -> tuple[TestUser, TestUser]:
    await seed_types(db, settings)
    customer = await make_user(db, settings)
    agent = await make_user(db, settings, Role.agent, agency_id=agencies["DKC"].id)
    await link(db, customer.id, await make_meter(db, agency_id=agencies["DKC"].id), is_default=True)
    return customer, agent


async def _submit(client: AsyncClient, customer: TestUser) -> str:
    r = await client.post(
        f"{API}/me/requests",
        json={"type": "coupure_panne", "comment": "Plus de courant depuis ce matin."},
        headers=customer.headers,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def _comment(client: AsyncClient, who: TestUser, rid: str, body: str) -> Any:
    return await client.post(f"{API}/me/requests/{rid}/comments", json={"body": body}, headers=who.headers)


async def test_a_comment_is_bounded_in_length(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    customer, agent = await _people(db, settings, agencies)
    rid = await _submit(client, customer)
    too_long = await _comment(client, customer, rid, "x" * 2001)
    assert too_long.status_code == 422
    assert too_long.headers["content-type"].startswith("application/problem+json")
    assert (await _comment(client, customer, rid, "x" * 2000)).status_code == 201
    staff_long = await client.patch(
        f"{API}/requests/{rid}", json={"comment": "y" * 2001}, headers=agent.headers
    )
    assert staff_long.status_code == 422
    detail = (await client.get(f"{API}/me/requests/{rid}", headers=customer.headers)).json()
    assert [len(c["body"]) for c in detail["comments"]] == [2000]


async def test_comments_per_author_and_hour_then_in_all(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    customer, agent = await _people(db, settings, agencies)
    rid = await _submit(client, customer)
    other = await _submit(client, customer)
    statuses = [
        (await _comment(client, customer, rid, f"Message {i}")).status_code
        for i in range(service.COMMENTS_PER_HOUR + 1)
    ]
    assert statuses == [201] * service.COMMENTS_PER_HOUR + [429]
    refused = await _comment(client, customer, rid, "Encore")
    assert refused.json()["code"] == "too_many_comments"
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    # the limit is per author and request: the agent still answers, the customer's other request is open
    answer = await client.patch(
        f"{API}/requests/{rid}", json={"comment": "On s'en occupe."}, headers=agent.headers
    )
    assert answer.status_code == 200, answer.text
    assert (await _comment(client, customer, other, "Autre sujet")).status_code == 201

    # in all, an author writes at most COMMENTS_PER_AUTHOR messages on one request
    await write_comments(
        db, other, customer.id, [f"Ancien {i}" for i in range(service.COMMENTS_PER_AUTHOR - 1)]
    )
    full = await _comment(client, customer, other, "Un de trop")
    assert full.status_code == 409
    assert full.json()["code"] == "request_comments_full"
    assert "nouvelle demande" in full.json()["detail"]
    english = await client.post(
        f"{API}/me/requests/{other}/comments",
        json={"body": "One too many"},
        headers={**customer.headers, "Accept-Language": "en"},
    )
    assert english.json()["detail"].startswith("You wrote")


async def test_the_detail_holds_the_newest_events_and_the_timeline_pages_through_the_rest(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    customer, agent = await _people(db, settings, agencies)
    stranger = await make_user(db, settings)
    rid = await _submit(client, customer)
    # the figure: 60 comments of 4 000 characters made a 244 KB detail; now 2 000 at most
    bodies = [f"{i:02d}" + "z" * 1998 for i in range(60)]
    await write_comments(db, rid, customer.id, bodies)

    detail = await client.get(f"{API}/me/requests/{rid}", headers=customer.headers)
    assert detail.status_code == 200
    shown = detail.json()
    assert len(shown["history"]) + len(shown["comments"]) == service.DETAIL_EVENTS
    assert [c["body"][:2] for c in shown["comments"]] == [f"{i:02d}" for i in range(40, 60)]
    assert len(detail.content) < 50_000
    assert shown["older_events_cursor"]

    # the timeline, newest first, continues where the detail stops and ends with the submission
    seen: list[dict[str, Any]] = []
    cursor = shown["older_events_cursor"]
    while cursor:
        page = await client.get(
            f"{API}/me/requests/{rid}/timeline",
            params={"limit": 15, "cursor": cursor},
            headers=customer.headers,
        )
        assert page.status_code == 200, page.text
        assert len(page.json()["items"]) <= 15
        seen += page.json()["items"]
        cursor = page.json()["next_cursor"]
    assert [e["body"][:2] for e in seen[:-1]] == [f"{i:02d}" for i in range(39, -1, -1)]
    assert (seen[-1]["kind"], seen[-1]["to_status"], seen[-1]["by"]) == ("status", "submitted", "customer")

    # from the start, the whole timeline (61 events) in pages; staff read the same
    first = (await client.get(f"{API}/me/requests/{rid}/timeline?limit=100", headers=customer.headers)).json()
    assert len(first["items"]) == 61
    assert first["next_cursor"] is None
    staff = await client.get(f"{API}/requests/{rid}/timeline?limit=100", headers=agent.headers)
    assert staff.status_code == 200
    assert staff.json()["items"] == first["items"]
    staff_detail = (await client.get(f"{API}/requests/{rid}", headers=agent.headers)).json()
    assert staff_detail["older_events_cursor"] == shown["older_events_cursor"]

    # somebody else's request, or a forged cursor, is refused without a 500
    assert (
        await client.get(f"{API}/me/requests/{rid}/timeline", headers=stranger.headers)
    ).status_code == 404
    forged = await client.get(f"{API}/me/requests/{rid}/timeline?cursor=bm9wZQ", headers=customer.headers)
    assert (forged.status_code, forged.json()["code"]) == (400, "invalid_cursor")


async def test_a_short_request_has_no_older_events(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    customer, _ = await _people(db, settings, agencies)
    rid = await _submit(client, customer)
    assert (await _comment(client, customer, rid, "Merci")).status_code == 201
    detail = (await client.get(f"{API}/me/requests/{rid}", headers=customer.headers)).json()
    assert detail["older_events_cursor"] is None
    timeline = (await client.get(f"{API}/me/requests/{rid}/timeline", headers=customer.headers)).json()
    assert [(e["kind"], e["body"]) for e in timeline["items"]] == [("comment", "Merci"), ("status", None)]
