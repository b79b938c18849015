"""After the import, v2 people sign in to v3 with their old secrets (bcrypt, upgraded to Argon2id at
the first success) and find their meters, owners re-decided from the legacy phone."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient
from sqlalchemy import text

from samaconso.cutover.v2_generator import GeneratedV2
from samaconso.kit.db import Database

API = "/api/v1"


async def _hash_of(db: Database, column: str, where: str, value: str) -> str:
    query = text(f"SELECT {column} FROM users WHERE {where} = :v")  # noqa: S608 - constant names
    async with db.engine.connect() as conn:
        found = (await conn.execute(query, {"v": value})).scalar_one()
        return str(found)


async def test_customer_signs_in_with_old_pin_from_any_phone_form(
    imported: dict[str, Any], client: AsyncClient, db: Database, v2_source: GeneratedV2
) -> None:
    s = v2_source.scenario
    assert (await _hash_of(db, "pin_hash", "phone", s.customer_phone)).startswith("$2b$12$")
    for typed in ("77 111 22 33", "+221771112233", "00221771112233", "771112233"):
        response = await client.post(f"{API}/auth/login", json={"phone": typed, "pin": s.customer_pin})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["pin_change_required"] is False
        assert body["user"]["phone"] == s.customer_phone
    # verify-and-update: the bcrypt hash became Argon2id, and the PIN still works
    assert (await _hash_of(db, "pin_hash", "phone", s.customer_phone)).startswith("$argon2id$")
    again = await client.post(f"{API}/auth/login", json={"phone": s.customer_phone, "pin": s.customer_pin})
    assert again.status_code == 200
    # the merged (older, inactive) account's PIN is not the one kept
    other = await client.post(f"{API}/auth/login", json={"phone": s.customer_phone, "pin": "2468"})
    assert other.status_code == 401
    headers = {"Authorization": f"Bearer {again.json()['access_token']}"}
    meters = (await client.get(f"{API}/me/meters", headers=headers)).json()["items"]
    by_number = {m["number"]: m for m in meters}
    own = by_number[s.prepaid_meter]
    # v2 compared "77 111 22 33" with SIC's "771112233" and said non-owner; E.164 says owner
    assert own["is_owner"] is True
    assert own["status"] == "active"
    assert own["is_default"] is True
    assert by_number[s.shared_meter]["is_owner"] is False
    assert by_number[s.shared_meter]["status"] == "active"
    # the merged duplicate account's postpaid contract followed, and SIC's phone makes it the owner
    assert by_number[s.postpaid_contract]["kind"] == "postpaid"
    assert by_number[s.postpaid_contract]["is_owner"] is True
    assert len(meters) == 3  # two duplicate v2 links of the prepaid meter became one
    # the pending access request of another customer is there for the owner, not re-notified
    pending = (await client.get(f"{API}/me/meter-access-requests", headers=headers)).json()["items"]
    assert [p["status"] for p in pending] == ["pending"]
    feed = (await client.get(f"{API}/me/notifications", headers=headers)).json()["items"]
    titles = {f["title"]: f["read"] for f in feed}
    assert titles["Accès validé"] is True
    assert titles["Demande d'accès"] is False
    assert titles["Maintenance"] is False  # a v2 broadcast: unread for everyone
    assert "Trop ancienne" not in titles  # older than 90 days
    requests = (await client.get(f"{API}/me/requests", headers=headers)).json()["items"]
    assert len(requests) == 2
    statuses = sorted(r["status"] for r in requests)
    assert statuses == ["in_progress", "submitted"]
    detail = (await client.get(f"{API}/me/requests/{requests[0]['id']}", headers=headers)).json()
    assert "Importée depuis la v2" in str(detail["history"][0])
    assert detail["comment"]


async def test_weak_v2_pin_works_once_then_must_change(
    imported: dict[str, Any], client: AsyncClient, v2_source: GeneratedV2
) -> None:
    s = v2_source.scenario
    first = await client.post(f"{API}/auth/login", json={"phone": s.weak_pin_phone, "pin": s.weak_pin})
    assert first.status_code == 200, first.text
    assert first.json()["pin_change_required"] is True
    second = await client.post(f"{API}/auth/login", json={"phone": s.weak_pin_phone, "pin": s.weak_pin})
    assert second.status_code == 403
    assert second.headers["content-type"].startswith("application/problem+json")
    assert second.json()["code"] == "pin_change_required"
    assert "Code PIN oublié" in second.json()["detail"]
    # the one session it got lets the app set a PIN that meets today's rules
    headers = {"Authorization": f"Bearer {first.json()['access_token']}"}
    changed = await client.put(
        f"{API}/me/pin", json={"current_pin": s.weak_pin, "new_pin": "5831"}, headers=headers
    )
    assert changed.status_code == 204, changed.text
    ok = await client.post(f"{API}/auth/login", json={"phone": s.weak_pin_phone, "pin": "5831"})
    assert ok.status_code == 200
    assert ok.json()["pin_change_required"] is False


async def test_inactive_v2_account_stays_inactive(
    imported: dict[str, Any], client: AsyncClient, v2_source: GeneratedV2
) -> None:
    s = v2_source.scenario
    response = await client.post(f"{API}/auth/login", json={"phone": s.inactive_phone, "pin": "2580"})
    assert response.status_code == 401


async def test_v2_agent_signs_in_with_old_password(
    imported: dict[str, Any], client: AsyncClient, db: Database, v2_source: GeneratedV2
) -> None:
    s = v2_source.scenario
    response = await client.post(
        f"{API}/auth/staff/login", json={"login": "A.Diallo", "password": s.agent_password}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["role"] == "agent"
    assert body["password_change_required"] is False
    assert (await _hash_of(db, "password_hash", "login", s.agent_login)).startswith("$argon2id$")
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    agency = (await client.get(f"{API}/agencies/{body['user']['agency_id']}", headers=headers)).json()
    assert agency["name"] == "Kédougou"
    assert agency["code"].startswith("V2-")
    admin = await client.post(
        f"{API}/auth/staff/login", json={"login": s.admin_login, "password": s.agent_password}
    )
    assert admin.status_code == 200
    assert admin.json()["user"]["role"] == "admin"
    assert (await _hash_of(db, "auth_source", "login", s.ldap_login)) == "ldap"


async def test_weak_v2_staff_password_works_once(
    imported: dict[str, Any], client: AsyncClient, v2_source: GeneratedV2
) -> None:
    s = v2_source.scenario
    body = {"login": s.weak_agent_login, "password": s.weak_agent_password}
    first = await client.post(f"{API}/auth/staff/login", json=body)
    assert first.status_code == 200, first.text
    assert first.json()["password_change_required"] is True
    second = await client.post(f"{API}/auth/staff/login", json=body, headers={"Accept-Language": "en"})
    assert second.status_code == 403
    assert second.json()["code"] == "password_change_required"
    assert "administrator" in second.json()["detail"]
