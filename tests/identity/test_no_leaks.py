"""No response ever carries a hash, a code or someone else's token; no log line carries a PIN,
password, code or token. One realistic session of every identity flow, everything captured."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from httpx import AsyncClient, Response
from sqlalchemy import select

from samaconso.identity.models import OtpCode, RefreshToken, Role, User
from samaconso.kit.db import Database
from samaconso.settings import Settings
from tests.identity.helpers import API, bearer, last_code, new_phone
from tests.support.users import make_user

PIN_A = "582914"
PIN_A2 = "604172"
PIN_B = "739051"
STAFF_PASSWORD = "Staff-Password-1"  # set by make_user


async def test_no_secret_in_responses_or_logs(
    client: AsyncClient,
    settings: Settings,
    db: Database,
    capsys: pytest.CaptureFixture[str],
    agencies: dict[str, Any],
) -> None:
    capsys.readouterr()
    responses: list[tuple[str, Response]] = []  # (whose, response)

    async def call(who: str, method: str, url: str, **kwargs: Any) -> Response:
        response = await client.request(method, f"{API}{url}", **kwargs)
        responses.append((who, response))
        return response

    phone_a, phone_b = new_phone(), new_phone()
    codes: list[str] = []
    await call("a", "POST", "/auth/otp", json={"phone": phone_a, "purpose": "signup"})
    codes.append(last_code(settings, phone_a))
    a = (
        await call(
            "a",
            "POST",
            "/auth/signup",
            json={
                "phone": phone_a,
                "otp": codes[-1],
                "pin": PIN_A,
                "first_name": "A",
                "last_name": "A",
                "fcm_token": "fcm-secret-a",
                "device_id": "da",
            },
        )
    ).json()
    await call("b", "POST", "/auth/otp", json={"phone": phone_b, "purpose": "signup"})
    codes.append(last_code(settings, phone_b))
    b = (
        await call(
            "b",
            "POST",
            "/auth/signup",
            json={"phone": phone_b, "otp": codes[-1], "pin": PIN_B, "first_name": "B", "last_name": "B"},
        )
    ).json()
    await call("a", "POST", "/auth/login", json={"phone": phone_a, "pin": PIN_B})  # wrong PIN (B's)
    await call(
        "a",
        "POST",
        "/auth/login",
        json={"phone": phone_a, "pin": PIN_A, "device_id": "da", "fcm_token": "fcm-secret-a2"},
    )
    a2 = (await call("a", "POST", "/auth/refresh", json={"refresh_token": a["refresh_token"]})).json()
    await call("a", "POST", "/auth/refresh", json={"refresh_token": a["refresh_token"]})  # reuse
    a3 = (await call("a", "POST", "/auth/login", json={"phone": phone_a, "pin": PIN_A})).json()
    await call("a", "PUT", "/me/pin", headers=bearer(a3), json={"current_pin": PIN_B, "new_pin": PIN_A2})
    await call("a", "PUT", "/me/pin", headers=bearer(a3), json={"current_pin": PIN_A, "new_pin": PIN_A2})
    await call("a", "POST", "/auth/otp", json={"phone": phone_a, "purpose": "pin_reset"})
    codes.append(last_code(settings, phone_a))
    await call("a", "POST", "/auth/pin/reset", json={"phone": phone_a, "otp": "000000", "new_pin": PIN_A})
    await call("a", "POST", "/auth/pin/reset", json={"phone": phone_a, "otp": codes[-1], "new_pin": PIN_A})
    a4 = (await call("a", "POST", "/auth/login", json={"phone": phone_a, "pin": PIN_A})).json()
    await call("a", "GET", "/me", headers=bearer(a4))
    await call("a", "GET", "/me/devices", headers=bearer(a4))
    await call(
        "a", "POST", "/me/devices", headers=bearer(a4), json={"device_id": "db", "fcm_token": "fcm-secret-b"}
    )
    await call("b", "GET", "/me", headers=bearer(b))
    await call("b", "POST", "/auth/logout", headers=bearer(b))
    admin = await make_user(db, settings, Role.admin, agency_id=None)
    async with db.sessionmaker() as s:
        admin_login = (await s.get(User, admin.id)).login  # type: ignore[union-attr]
    await call(
        "admin", "POST", "/auth/staff/login", json={"login": admin_login, "password": "wrong-password-1"}
    )
    staff = (
        await call(
            "admin", "POST", "/auth/staff/login", json={"login": admin_login, "password": STAFF_PASSWORD}
        )
    ).json()
    await call("admin", "GET", "/admin/audit", headers=bearer(staff), params={"limit": 100})
    await call("admin", "GET", "/admin/users", headers=bearer(staff))
    await call(
        "admin",
        "POST",
        "/admin/users",
        headers=bearer(staff),
        json={
            "login": "new.agent",
            "role": "agent",
            "agency_id": str(agencies["DKC"].id),
            "first_name": "N",
            "last_name": "A",
            "password": "New-Agent-Pass-9",
        },
    )

    async with db.sessionmaker() as s:
        hashes = [h for h in (await s.execute(select(User.pin_hash))).scalars() if h]
        hashes += [h for h in (await s.execute(select(User.password_hash))).scalars() if h]
        hashes += list((await s.execute(select(OtpCode.code_hash))).scalars())
        hashes += list((await s.execute(select(RefreshToken.token_hash))).scalars())
    assert len(hashes) > 10

    tokens_of = {
        "a": [t for x in (a, a2, a3, a4) for t in (x.get("access_token"), x.get("refresh_token")) if t],
        "b": [b["access_token"], b["refresh_token"]],
        "admin": [staff["access_token"], staff["refresh_token"]],
    }
    secrets = [
        PIN_A,
        PIN_A2,
        PIN_B,
        STAFF_PASSWORD,
        "New-Agent-Pass-9",
        "wrong-password-1",
        *codes,
        "fcm-secret",
    ]
    for who, response in responses:
        text = response.text
        for secret in [*secrets, *hashes, "$argon2"]:
            assert secret not in text, f"{response.request.method} {response.request.url.path} leaks a secret"
        for owner, tokens in tokens_of.items():
            if owner == who:
                continue
            for token in tokens:
                assert token not in text, f"{response.request.url.path} returns another user's token"

    err = capsys.readouterr().err
    log_lines = [line for line in err.splitlines() if line.startswith("{")]
    assert len(log_lines) >= len(responses)  # one access line per request at least
    assert any(json.loads(line).get("event") == "otp_sent" for line in log_lines)
    all_tokens = [t for tokens in tokens_of.values() for t in tokens]
    for line in log_lines:
        for secret in [*secrets, *all_tokens, *hashes]:
            assert not re.search(rf"(?<![\w-]){re.escape(secret)}(?![\w-])", line), (
                f"log line leaks a secret: {line[:120]}"
            )
