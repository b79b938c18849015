"""Profile, avatar, account deletion; staff accounts, agencies and the audit trail."""

from __future__ import annotations

import struct
import zlib
from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import select

from samaconso.identity.models import Device, Role, User
from samaconso.kit.db import Database
from samaconso.meters.models import LinkStatus, Meter, MeterKind, MeterLink
from samaconso.settings import Settings
from tests.identity.helpers import API, bearer, login, signup
from tests.support.users import make_user


def png_bytes(extra: int = 0) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"\x00\xff\x00\x00"  # one red pixel
    body = chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw))
    body += chunk(b"tEXt", b"c\x00" + b"x" * extra) if extra else b""
    return b"\x89PNG\r\n\x1a\n" + body + chunk(b"IEND", b"")


async def test_me_and_patch(client: AsyncClient, settings: Settings) -> None:
    tokens = await signup(client, settings)
    headers = bearer(tokens)
    me = (await client.get(f"{API}/me", headers=headers)).json()
    assert me["first_name"] == "Awa"
    assert me["has_avatar"] is False
    assert not any(k in me for k in ("pin_hash", "password_hash", "failed_attempts"))
    changes = {"first_name": "Aïssatou", "email": "a@example.sn", "language": "en"}
    # the role and the phone are not the profile's to change: sent anyway, the whole patch is refused
    smuggled = await client.patch(
        f"{API}/me", headers=headers, json=changes | {"role": "admin", "phone": "+221700000000"}
    )
    assert smuggled.status_code == 422, smuggled.text
    assert sorted((e["field"], e["code"]) for e in smuggled.json()["errors"]) == [
        ("phone", "extra_forbidden"),
        ("role", "extra_forbidden"),
    ]
    assert (await client.get(f"{API}/me", headers=headers)).json()["first_name"] == "Awa"
    response = await client.patch(f"{API}/me", headers=headers, json=changes)
    assert response.status_code == 200
    body = response.json()
    assert body["first_name"] == "Aïssatou"
    assert body["language"] == "en"
    assert body["role"] == "customer"
    assert body["phone"] == tokens["user"]["phone"]
    bad = await client.patch(f"{API}/me", headers=headers, json={"language": "wo"})
    assert bad.status_code == 422


async def test_avatar_upload_checks_content_and_size(
    client: AsyncClient, settings: Settings, app: FastAPI
) -> None:
    tokens = await signup(client, settings)
    headers = bearer(tokens)
    assert (await client.get(f"{API}/me/avatar", headers=headers)).status_code == 404
    # a script renamed as an image is refused by content, whatever the declared type
    fake = await client.put(
        f"{API}/me/avatar",
        headers={**headers, "Content-Type": "image/png"},
        content=b"<script>alert(1)</script>",
    )
    assert fake.status_code == 415
    gif = await client.put(f"{API}/me/avatar", headers=headers, content=b"GIF89a" + b"\x00" * 50)
    assert gif.status_code == 415
    # too large: refused while reading (streamed body without Content-Length)
    big = png_bytes(extra=settings.avatar_max_bytes)

    async def stream() -> Any:
        for i in range(0, len(big), 64 * 1024):
            yield big[i : i + 64 * 1024]

    too_big = await client.put(f"{API}/me/avatar", headers=headers, content=stream())
    assert too_big.status_code == 413
    declared = await client.put(f"{API}/me/avatar", headers=headers, content=big)
    assert declared.status_code == 413
    image = png_bytes()
    ok = await client.put(f"{API}/me/avatar", headers={**headers, "Content-Type": "image/png"}, content=image)
    assert ok.status_code == 200, ok.text
    assert ok.json()["has_avatar"] is True
    back = await client.get(f"{API}/me/avatar", headers=headers)
    assert back.status_code == 200
    assert back.content == image
    assert back.headers["content-type"] == "image/png"
    # the same through a multipart form (what most mobile HTTP clients send)
    jpeg = (
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 200 + b"\xff\xd9"
    )
    multi = await client.put(
        f"{API}/me/avatar", headers=headers, files={"file": ("me.jpg", jpeg, "image/jpeg")}
    )
    assert multi.status_code == 200, multi.text
    back = await client.get(f"{API}/me/avatar", headers=headers)
    assert back.content == jpeg
    assert back.headers["content-type"] == "image/jpeg"
    listed = app.state.storage.client.list_objects_v2(
        Bucket=settings.s3_bucket_avatars, Prefix=tokens["user"]["id"]
    )
    assert listed["KeyCount"] == 1  # the replaced picture was deleted
    fake_multi = await client.put(
        f"{API}/me/avatar", headers=headers, files={"file": ("x.png", b"MZ\x90\x00" * 10, "image/png")}
    )
    assert fake_multi.status_code == 415
    big_multi = await client.put(
        f"{API}/me/avatar", headers=headers, files={"file": ("big.png", big, "image/png")}
    )
    assert big_multi.status_code == 413
    # another user has no access to it (their own avatar is simply absent)
    other = await signup(client, settings)
    assert (await client.get(f"{API}/me/avatar", headers=bearer(other))).status_code == 404


async def test_delete_me_erases_and_revokes(
    client: AsyncClient, settings: Settings, db: Database, app: FastAPI
) -> None:
    tokens = await signup(client, settings, device_id="phone-x", fcm_token="fcm-x")
    phone = tokens["user"]["phone"]
    headers = bearer(tokens)
    assert (await client.put(f"{API}/me/avatar", headers=headers, content=png_bytes())).status_code == 200
    user_id = tokens["user"]["id"]
    async with db.sessionmaker() as s:
        meter = Meter(kind=MeterKind.prepaid, number="14234567890")
        s.add(meter)
        await s.flush()
        s.add(
            MeterLink(
                meter_id=meter.id, user_id=user_id, status=LinkStatus.active, is_owner=True, is_default=True
            )
        )
        await s.commit()
    assert (await client.delete(f"{API}/me", headers=headers)).status_code == 204
    assert (await client.get(f"{API}/me", headers=headers)).status_code == 401
    assert (await client.post(f"{API}/auth/login", json={"phone": phone, "pin": "2580"})).status_code == 401
    async with db.sessionmaker() as s:
        user = await s.get(User, user_id)
        assert user is not None
        assert user.is_active is False
        assert (user.phone, user.email, user.first_name, user.pin_hash, user.avatar_key) == (
            None,
            None,
            "",
            None,
            None,
        )
        links = (
            (await s.execute(select(MeterLink.status).where(MeterLink.user_id == user_id))).scalars().all()
        )
        assert links == [LinkStatus.revoked]
        devices = (await s.execute(select(Device).where(Device.user_id == user_id))).scalars().all()
        assert [(d.is_active, d.fcm_token) for d in devices] == [(False, None)]
    listed = app.state.storage.client.list_objects_v2(Bucket=settings.s3_bucket_avatars, Prefix=str(user_id))
    assert listed["KeyCount"] == 0  # the picture is erased too
    # the number is free for a new account
    again = await signup(client, settings, phone=phone)
    assert again["user"]["id"] != user_id


async def test_staff_accounts_admin_only(
    client: AsyncClient, settings: Settings, db: Database, agencies: dict[str, Any]
) -> None:
    admin = await make_user(db, settings, Role.admin)
    agent = await make_user(db, settings, Role.agent, agency_id=agencies["DKC"].id)
    body = {
        "login": "Mamadou.Fall",
        "role": "agent",
        "agency_id": str(agencies["THS"].id),
        "first_name": "Mamadou",
        "last_name": "Fall",
        "password": "Thies-Agent-2026",
    }
    assert (await client.post(f"{API}/admin/users", headers=agent.headers, json=body)).status_code == 403
    created = await client.post(f"{API}/admin/users", headers=admin.headers, json=body)
    assert created.status_code == 201, created.text
    staff = created.json()
    assert staff["login"] == "mamadou.fall"
    assert "password" not in created.text
    assert (await client.post(f"{API}/admin/users", headers=admin.headers, json=body)).status_code == 409
    no_agency = await client.post(
        f"{API}/admin/users", headers=admin.headers, json={**body, "login": "x.y", "agency_id": None}
    )
    assert no_agency.status_code == 400
    weak = await client.post(
        f"{API}/admin/users", headers=admin.headers, json={**body, "login": "w.k", "password": "short"}
    )
    assert weak.status_code == 422
    # the new agent logs in and sees only their agency
    tokens = (
        await client.post(
            f"{API}/auth/staff/login", json={"login": "mamadou.fall", "password": "Thies-Agent-2026"}
        )
    ).json()
    listing = (await client.get(f"{API}/agencies", headers=bearer(tokens))).json()
    assert [a["code"] for a in listing["items"]] == ["THS"]
    other = await client.get(f"{API}/agencies/{agencies['DKC'].id}", headers=bearer(tokens))
    assert other.status_code == 404
    # moving them to Dakar applies at once (cached session state is dropped)
    moved = await client.patch(
        f"{API}/admin/users/{staff['id']}", headers=admin.headers, json={"agency_id": str(agencies["DKC"].id)}
    )
    assert moved.status_code == 200
    listing = (await client.get(f"{API}/agencies", headers=bearer(tokens))).json()
    assert [a["code"] for a in listing["items"]] == ["DKC"]
    # deactivation signs them out
    off = await client.patch(
        f"{API}/admin/users/{staff['id']}", headers=admin.headers, json={"is_active": False}
    )
    assert off.status_code == 200
    assert (await client.get(f"{API}/me", headers=bearer(tokens))).status_code == 401
    # customers are not staff accounts
    customer = await make_user(db, settings, Role.customer)
    assert (
        await client.patch(
            f"{API}/admin/users/{customer.id}", headers=admin.headers, json={"first_name": "X"}
        )
    ).status_code == 404
    # an admin cannot demote themself
    self_demote = await client.patch(
        f"{API}/admin/users/{admin.id}", headers=admin.headers, json={"role": "agent"}
    )
    assert self_demote.status_code == 400
    page = await client.get(f"{API}/admin/users", headers=admin.headers, params={"limit": 1})
    assert page.status_code == 200
    assert len(page.json()["items"]) == 1
    assert page.json()["next_cursor"]
    page2 = await client.get(
        f"{API}/admin/users", headers=admin.headers, params={"limit": 1, "cursor": page.json()["next_cursor"]}
    )
    assert page2.json()["items"][0]["id"] != page.json()["items"][0]["id"]


async def test_agencies_admin_writes(
    client: AsyncClient, settings: Settings, db: Database, agencies: dict[str, Any]
) -> None:
    admin = await make_user(db, settings, Role.admin)
    agent = await make_user(db, settings, Role.agent, agency_id=agencies["DKC"].id)
    all_codes = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 7, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"{API}/agencies", headers=admin.headers, params=params)).json()
        all_codes += [a["code"] for a in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(all_codes) == sorted(agencies)
    new = {"code": "kdg", "name": "Kédougou", "region": "Kédougou"}
    assert (await client.post(f"{API}/agencies", headers=agent.headers, json=new)).status_code == 403
    created = await client.post(f"{API}/agencies", headers=admin.headers, json=new)
    assert created.status_code == 201
    assert created.json()["code"] == "KDG"
    assert (await client.post(f"{API}/agencies", headers=admin.headers, json=new)).status_code == 409
    patched = await client.patch(
        f"{API}/agencies/{created.json()['id']}", headers=admin.headers, json={"is_active": False}
    )
    assert patched.json()["is_active"] is False
    assert (
        await client.patch(f"{API}/agencies/{agencies['DKC'].id}", headers=agent.headers, json={"name": "X"})
    ).status_code == 403


async def test_audit_trail(client: AsyncClient, settings: Settings, db: Database) -> None:
    admin = await make_user(db, settings, Role.admin)
    tokens = await signup(client, settings, device_id="dev-1")
    phone = tokens["user"]["phone"]
    await client.post(f"{API}/auth/login", json={"phone": phone, "pin": "9999"})
    again = await login(client, phone)
    await client.put(f"{API}/me/pin", headers=bearer(again), json={"current_pin": "2580", "new_pin": "3691"})
    await client.post(f"{API}/auth/logout", headers=bearer(again))
    for _ in range(5):
        await client.post(f"{API}/auth/login", json={"phone": phone, "pin": "1111"})
    user_id = tokens["user"]["id"]
    events: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"user_id": user_id, "limit": 3, **({"cursor": cursor} if cursor else {})}
        response = await client.get(f"{API}/admin/audit", headers=admin.headers, params=params)
        assert response.status_code == 200
        events += [e["event"] for e in response.json()["items"]]
        cursor = response.json()["next_cursor"]
        if not cursor:
            break
    for expected in (
        "signup",
        "device_registered",
        "login_failed",
        "login_ok",
        "pin_changed",
        "logout",
        "lockout",
    ):
        assert expected in events, expected
    text = str(events)
    assert "2580" not in text
    customer = await client.get(f"{API}/admin/audit", headers=bearer(again))
    assert customer.status_code in (401, 403)
