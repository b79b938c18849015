"""Staff list the notifications they sent and withdraw one: gone from the customer's feed at once,
no push sent after the withdrawal, audited."""

from __future__ import annotations

import uuid

from httpx import AsyncClient
from sqlalchemy import select

from samaconso.identity.models import Agency, AuditEvent, Role
from samaconso.kit.db import Database
from samaconso.kit.sinks import JsonlSink
from samaconso.notifications.models import Delivery
from samaconso.notifications.pipeline import FilePusher, send_batch
from samaconso.settings import Settings
from tests.notifications.conftest import add_devices, link_meter
from tests.support.users import make_user

API = "/api/v1"
BODY = {
    "type": "campaign",
    "title": {"fr": "Journée portes ouvertes", "en": "Open day"},
    "body": {"fr": "Venez nous voir samedi.", "en": "Come and see us on Saturday."},
}


async def test_list_and_withdraw(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    dakar, thies = agencies["DKC"], agencies["THS"]
    agent = await make_user(db, settings, Role.agent, agency_id=dakar.id)
    outsider = await make_user(db, settings, Role.agent, agency_id=thies.id)
    admin = await make_user(db, settings, Role.admin)
    awa = await make_user(db, settings)
    await link_meter(db, awa.id, dakar.id)
    await add_devices(db, [awa.id], prefix="withdraw")

    r = await client.post(
        f"{API}/notifications", json={**BODY, "target": {"kind": "agency"}}, headers=agent.headers
    )
    assert r.status_code == 202, r.text
    nid = r.json()["id"]
    feed = await client.get(f"{API}/me/notifications", headers=awa.headers)
    assert [n["id"] for n in feed.json()["items"]] == [nid]

    for who, expected in ((agent, [nid]), (admin, [nid]), (outsider, [])):
        r = await client.get(f"{API}/notifications", headers=who.headers)
        assert r.status_code == 200, r.text
        assert [n["id"] for n in r.json()["items"]] == expected
    assert r.json()["items"] == []

    r = await client.post(f"{API}/notifications/{nid}/withdraw", headers=outsider.headers)
    assert r.status_code == 404
    r = await client.post(f"{API}/notifications/{nid}/withdraw", headers=agent.headers)
    assert r.status_code == 200, r.text
    assert r.json()["withdrawn_at"] is not None
    feed = await client.get(f"{API}/me/notifications", headers=awa.headers)
    assert feed.json()["items"] == []
    listed = (await client.get(f"{API}/notifications", headers=agent.headers)).json()["items"]
    assert listed[0]["withdrawn_at"] is not None

    # a send batch that runs after the withdrawal pushes nothing
    sink = JsonlSink(settings.outbox_dir, "push", echo=False)
    before = len(sink.tail(1000))
    totals = await send_batch(
        db, FilePusher(settings), uuid.UUID(nid), None, uuid.UUID(int=2**128 - 1), redelivered=False
    )
    assert totals == {"sent": 0, "dead": 0, "failed": 0}
    assert len(sink.tail(1000)) == before
    async with db.sessionmaker() as session:
        assert (
            await session.execute(select(Delivery).where(Delivery.notification_id == uuid.UUID(nid)))
        ).first() is None
        events = (
            await session.execute(select(AuditEvent.event, AuditEvent.actor_id).order_by(AuditEvent.at))
        ).all()
    assert ("notification_sent", agent.id) in events
    assert ("notification_withdrawn", agent.id) in events
