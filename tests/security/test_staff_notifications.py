"""Point 6 (staff part): system types reserved to the system, ``urgent`` to administrators'
outages, links only to the app or Senelec, and a per-staff sending limit."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient, Response

from samaconso.identity.models import Role
from samaconso.kit.db import Database
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
