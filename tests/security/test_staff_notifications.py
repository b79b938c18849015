"""Point 6 (staff part): system types reserved to the system, ``urgent`` to administrators'
outages, links only to the app or Senelec, a per-staff sending limit, and every broadcast in the
audit log (who, scope, type, how many devices)."""

from __future__ import annotations

import uuid
from typing import Any

from httpx import AsyncClient, Response

from samaconso.identity.models import Device, Role
from samaconso.kit.db import Database
from samaconso.meters.models import LinkStatus, Meter, MeterKind, MeterLink
from samaconso.notifications import staff_rules
from samaconso.settings import Settings
from tests.identity.helpers import API
from tests.support.users import make_user


def _message(user_id: Any, type_: str = "campaign", **extra: Any) -> dict[str, Any]:
    return {
        "target": {"kind": "user", "user_id": str(user_id)},
        "type": type_,
        "title": {"fr": "Titre", "en": "Title"},
        "body": {"fr": "Texte", "en": "Text"},
        **extra,
    }


async def test_staff_cannot_impersonate_the_system_or_phish(
    client: AsyncClient, settings: Settings, db: Database, agencies: dict[str, Any]
) -> None:
    agent = await make_user(db, settings, Role.agent, agency_id=agencies["DKC"].id)
    admin = await make_user(db, settings, Role.admin)
    target = await make_user(db, settings)

    async def send(who: Any, body: dict[str, Any]) -> Response:
        return await client.post(f"{API}/notifications", headers=who.headers, json=body)

    reserved = await send(agent, _message(target.id, "meter_access_granted"))
    assert (reserved.status_code, reserved.json()["code"]) == (403, "notification_type_reserved")
    urgent = await send(agent, _message(target.id, "outage", priority="urgent"))
    assert (urgent.status_code, urgent.json()["code"]) == (403, "priority_reserved")
    assert (await send(admin, _message(target.id, "outage", priority="urgent"))).status_code == 202
    for link in ("https://senelec-paiement.example/login", "http://www.senelec.sn/x", "javascript:alert(1)"):
        phishing = await send(admin, _message(target.id, data={"link": link}))
        assert (phishing.status_code, phishing.json()["code"]) == (422, "link_not_allowed"), link
    for link in ("samaconso://meters/1", "https://www.senelec.sn/coupures"):
        assert (await send(admin, _message(target.id, data={"link": link}))).status_code == 202, link


async def test_each_staff_member_has_a_sending_limit(
    client: AsyncClient, settings: Settings, db: Database
) -> None:
    admin = await make_user(db, settings, Role.admin)
    target = await make_user(db, settings)
    statuses = [
        (
            await client.post(f"{API}/notifications", headers=admin.headers, json=_message(target.id))
        ).status_code
        for _ in range(staff_rules.SENDS_PER_HOUR + 1)
    ]
    assert statuses[:-1] == [202] * staff_rules.SENDS_PER_HOUR
    assert statuses[-1] == 429


async def test_each_staff_member_has_their_own_limit(
    client: AsyncClient, settings: Settings, db: Database
) -> None:
    first = await make_user(db, settings, Role.admin)
    second = await make_user(db, settings, Role.admin)
    target = await make_user(db, settings)
    for _ in range(staff_rules.SENDS_PER_HOUR):
        await client.post(f"{API}/notifications", headers=first.headers, json=_message(target.id))
    refused = await client.post(f"{API}/notifications", headers=first.headers, json=_message(target.id))
    assert (refused.status_code, refused.json()["code"]) == (429, "notification_rate_limited")
    assert int(refused.headers["Retry-After"]) > 0
    other = await client.post(f"{API}/notifications", headers=second.headers, json=_message(target.id))
    assert other.status_code == 202


async def _customer_with_device(db: Database, settings: Settings, agency_id: uuid.UUID) -> None:
    """A customer following a meter of the agency, signed in on one pushable device."""
    user = await make_user(db, settings)
    async with db.sessionmaker() as session:
        meter = Meter(kind=MeterKind.prepaid, number=str(uuid.uuid4().int)[:11], agency_id=agency_id)
        session.add(meter)
        await session.flush()
        session.add(MeterLink(meter_id=meter.id, user_id=user.id, status=LinkStatus.active, is_owner=True))
        token = f"tok-{uuid.uuid4().hex}"
        session.add(
            Device(user_id=user.id, device_id=f"dev-{token}", fcm_token=token, fcm_token_hash=token[-64:])
        )
        await session.commit()


async def test_broadcasts_are_in_the_audit_log_with_sender_scope_type_and_count(
    client: AsyncClient, settings: Settings, db: Database, agencies: dict[str, Any]
) -> None:
    dakar, thies = agencies["DKC"].id, agencies["THS"].id
    for agency_id in (dakar, dakar, thies):
        await _customer_with_device(db, settings, agency_id)
    agent = await make_user(db, settings, Role.agent, agency_id=dakar)
    admin = await make_user(db, settings, Role.admin)

    def broadcast(target: dict[str, Any], type_: str = "campaign", **extra: Any) -> dict[str, Any]:
        return {**_message(uuid.uuid4(), type_, **extra), "target": target}

    sent = [
        (agent, broadcast({"kind": "agency"})),
        (admin, broadcast({"kind": "outage", "agency_ids": [str(thies)]}, "outage", priority="urgent")),
        (admin, broadcast({"kind": "everyone"})),
    ]
    ids = []
    for who, body in sent:
        r = await client.post(f"{API}/notifications", headers=who.headers, json=body)
        assert r.status_code == 202, r.text
        ids.append(r.json()["id"])
    # a message to one customer is no broadcast: not in the log
    one = await client.post(f"{API}/notifications", headers=admin.headers, json=_message(agent.id))
    assert one.status_code == 202

    audit = await client.get(
        f"{API}/admin/audit", params={"event": "notification_sent"}, headers=admin.headers
    )
    assert audit.status_code == 200, audit.text
    by_id = {e["details"]["notification"]: e for e in audit.json()["items"]}
    assert set(by_id) == set(ids)
    agency_entry, outage_entry, national_entry = (by_id[i] for i in ids)
    assert agency_entry["actor_id"] == str(agent.id)
    assert agency_entry["details"] == {
        "notification": ids[0],
        "target": "agency",
        "agencies": [str(dakar)],
        "type": "campaign",
        "priority": "low",  # a campaign to an agency
        "devices": 2,
    }
    assert outage_entry["actor_id"] == str(admin.id)
    assert (outage_entry["details"]["target"], outage_entry["details"]["agencies"]) == (
        "outage",
        [str(thies)],
    )
    assert (outage_entry["details"]["priority"], outage_entry["details"]["devices"]) == ("urgent", 1)
    assert national_entry["details"]["target"] == "everyone"
    assert national_entry["details"]["agencies"] == []
    assert national_entry["details"]["devices"] == 3
