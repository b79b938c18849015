"""Outages you can check: staff declare, update and end an outage for agencies; each step is pushed
to the zone (urgent); customers read the current and recent outages of their meters' agencies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from httpx import AsyncClient
from sqlalchemy import text

from samaconso.identity.models import Agency, Role
from samaconso.kit.db import Database
from samaconso.settings import Settings
from tests.requests.helpers import link, make_meter
from tests.support.users import make_user

API = "/api/v1"


def _body(agency_ids: list[str], **extra: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "agency_ids": agency_ids,
        "cause": "incident",
        "starts_at": (now - timedelta(minutes=30)).isoformat(),
        "expected_end_at": (now + timedelta(hours=2)).isoformat(),
        "title": {"fr": "Panne transformateur Médina", "en": "Transformer fault in Médina"},
        "message": {"fr": "Une équipe est sur place.", "en": "A team is on site."},
    } | extra


async def _pushes(db: Database) -> list[Any]:
    async with db.sessionmaker() as session:
        rows = await session.execute(
            text(
                "SELECT n.type, n.target_kind, n.target_agency_ids, n.title_fr, o.queue FROM notifications n "
                "JOIN notification_outbox o ON o.notification_id = n.id ORDER BY n.created_at"
            )
        )
        return list(rows.all())


async def test_agent_declares_updates_and_ends_and_customers_follow(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    dkc, ths = str(agencies["DKC"].id), str(agencies["THS"].id)
    agent = await make_user(db, settings, Role.agent, agency_id=agencies["DKC"].id)
    customer = await make_user(db, settings)
    elsewhere = await make_user(db, settings)
    await link(db, customer.id, await make_meter(db, agency_id=agencies["DKC"].id), is_default=True)
    await link(db, elsewhere.id, await make_meter(db, agency_id=agencies["THS"].id), is_default=True)

    # an agent declares for their own agency only
    assert (await client.post(f"{API}/outages", json=_body([ths]), headers=agent.headers)).status_code == 403
    assert (
        await client.post(f"{API}/outages", json=_body([dkc]), headers=customer.headers)
    ).status_code == 403
    bad = _body([dkc], expected_end_at=(datetime.now(UTC) - timedelta(hours=1)).isoformat())
    r = await client.post(f"{API}/outages", json=bad, headers=agent.headers)
    assert r.status_code == 422
    assert r.json()["code"] == "outage_end_before_start"
    r = await client.post(f"{API}/outages", json=_body([dkc]), headers=agent.headers)
    assert r.status_code == 201, r.text
    outage = r.json()
    assert outage["status"] == "ongoing"
    assert outage["agency_ids"] == [dkc]
    assert len(outage["notification_ids"]) == 1

    # the push went out as staff pushes go: one notification to the zone, on the urgent queue
    pushes = await _pushes(db)
    assert [(p.type, p.target_kind, p.queue) for p in pushes] == [("outage", "outage", "urgent")]

    # the customer of a Dakar Centre meter sees it, in English too; the Thiès customer does not
    mine = await client.get(f"{API}/me/outages", headers=customer.headers)
    assert mine.status_code == 200
    [seen] = mine.json()["items"]
    assert seen["id"] == outage["id"]
    assert seen["status"] == "ongoing"
    assert seen["cause"] == "incident"
    assert seen["title"] == "Panne transformateur Médina"
    assert seen["agencies"] == [agencies["DKC"].name]
    en = (await client.get(f"{API}/me/outages", headers={**customer.headers, "Accept-Language": "en"})).json()
    assert en["items"][0]["message"] == "A team is on site."
    assert (await client.get(f"{API}/me/outages", headers=elsewhere.headers)).json()["items"] == []
    feed = (await client.get(f"{API}/me/notifications", headers=customer.headers)).json()["items"]
    assert [n["type"] for n in feed] == ["outage"]

    # an update moves the expected end; the end closes it; both pushed
    later = (datetime.now(UTC) + timedelta(hours=4)).replace(microsecond=0)
    u = await client.post(
        f"{API}/outages/{outage['id']}/updates",
        json={
            "message": {"fr": "Pièce en route.", "en": "Part on its way."},
            "expected_end_at": later.isoformat(),
        },
        headers=agent.headers,
    )
    assert u.status_code == 200, u.text
    assert datetime.fromisoformat(u.json()["expected_end_at"]) == later
    e = await client.post(f"{API}/outages/{outage['id']}/end", json={}, headers=agent.headers)
    assert e.status_code == 200
    assert e.json()["status"] == "ended"
    assert e.json()["ended_at"] is not None
    assert (
        await client.post(f"{API}/outages/{outage['id']}/end", json={}, headers=agent.headers)
    ).status_code == 409
    assert len(await _pushes(db)) == 3

    after = (await client.get(f"{API}/me/outages", headers=customer.headers)).json()["items"]
    assert after[0]["status"] == "ended"  # recent: still shown for 7 days
    assert [s["kind"] for s in after[0]["updates"]] == ["declared", "update", "ended"]
    assert after[0]["updates"][-1]["message"] == "Le courant est rétabli. Merci de votre patience."
    # ended more than 7 days ago: no longer shown
    async with db.sessionmaker() as session:
        await session.execute(text("UPDATE outages SET ended_at = now() - interval '8 days'"))
        await session.commit()
    assert (await client.get(f"{API}/me/outages", headers=customer.headers)).json()["items"] == []


async def test_admin_declares_for_several_agencies_and_staff_lists_are_scoped(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    admin = await make_user(db, settings, Role.admin)
    dkc_agent = await make_user(db, settings, Role.agent, agency_id=agencies["DKC"].id)
    klk_agent = await make_user(db, settings, Role.agent, agency_id=agencies["KLK"].id)
    zone = [str(agencies["DKC"].id), str(agencies["THS"].id)]
    soon = datetime.now(UTC) + timedelta(days=1)
    body = _body(
        zone,
        cause="planned_works",
        starts_at=soon.isoformat(),
        expected_end_at=(soon + timedelta(hours=3)).isoformat(),
    )
    r = await client.post(f"{API}/outages", json=body, headers=admin.headers)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "announced"
    for _ in range(2):
        await client.post(f"{API}/outages", json=_body([str(agencies["KLK"].id)]), headers=admin.headers)
    page = await client.get(f"{API}/outages?limit=2", headers=admin.headers)
    assert len(page.json()["items"]) == 2
    rest = await client.get(
        f"{API}/outages?limit=2&cursor={page.json()['next_cursor']}", headers=admin.headers
    )
    assert len(rest.json()["items"]) == 1
    assert [
        o["id"] for o in (await client.get(f"{API}/outages", headers=dkc_agent.headers)).json()["items"]
    ] == [r.json()["id"]]
    assert len((await client.get(f"{API}/outages", headers=klk_agent.headers)).json()["items"]) == 2
    # an agent cannot follow up a multi-agency outage nor read another agency's
    assert (await client.get(f"{API}/outages/{r.json()['id']}", headers=klk_agent.headers)).status_code == 404
    up = await client.post(
        f"{API}/outages/{r.json()['id']}/updates",
        json={"message": {"fr": "abc", "en": "abc"}},
        headers=dkc_agent.headers,
    )
    assert up.status_code == 403
    unknown = _body([str(agencies["DKC"].id), "00000000-0000-0000-0000-000000000000"])
    assert (await client.post(f"{API}/outages", json=unknown, headers=admin.headers)).status_code == 422
