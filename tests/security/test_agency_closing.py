"""Point 8: closing an agency signs its agents out and refuses them (login, API, new agents)."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient
from sqlalchemy import text

from samaconso.identity.models import Role
from samaconso.kit.db import Database
from samaconso.settings import Settings
from tests.identity.helpers import API, bearer
from tests.support.users import make_user

STAFF_PASSWORD = "Staff-Password-1"  # what make_user gives staff accounts


async def test_closed_agency_signs_out_and_refuses_its_agents(
    client: AsyncClient, settings: Settings, db: Database, agencies: dict[str, Any]
) -> None:
    admin = await make_user(db, settings, Role.admin)
    agency = agencies["THS"]
    seeded = await make_user(db, settings, Role.agent, agency_id=agency.id)
    async with db.sessionmaker() as s:
        login = (
            await s.execute(text("SELECT login FROM users WHERE id = :i"), {"i": seeded.id})
        ).scalar_one()
    signed_in = await client.post(
        f"{API}/auth/staff/login", json={"login": login, "password": STAFF_PASSWORD}
    )
    assert signed_in.status_code == 200
    tokens = signed_in.json()
    assert (await client.get(f"{API}/me", headers=bearer(tokens))).status_code == 200  # state cached
    assert (await client.get(f"{API}/me", headers=seeded.headers)).status_code == 200

    closed = await client.patch(
        f"{API}/agencies/{agency.id}", headers=admin.headers, json={"is_active": False}
    )
    assert closed.status_code == 200, closed.text

    for headers in (bearer(tokens), seeded.headers):  # every session of its agents, at once
        me = await client.get(f"{API}/me", headers=headers)
        assert me.status_code == 401
        assert me.json()["code"] == "session_revoked"
    again = await client.post(f"{API}/auth/staff/login", json={"login": login, "password": STAFF_PASSWORD})
    assert again.status_code == 401
    unknown = await client.post(
        f"{API}/auth/staff/login", json={"login": "nobody.x", "password": STAFF_PASSWORD}
    )
    assert again.json()["code"] == unknown.json()["code"]  # says nothing more than for an unknown login
    refresh = await client.post(f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401
    new_agent = await client.post(
        f"{API}/admin/users",
        headers=admin.headers,
        json={
            "login": "new.agent",
            "role": "agent",
            "agency_id": str(agency.id),
            "first_name": "N",
            "last_name": "A",
            "auth_source": "local",
            "password": "Local-Password-123",
        },
    )
    assert new_agent.status_code == 400
    assert new_agent.json()["code"] == "agency_closed"
    other = await make_user(db, settings, Role.agent, agency_id=agencies["DKC"].id)
    assert (await client.get(f"{API}/me", headers=other.headers)).status_code == 200  # other agencies work
