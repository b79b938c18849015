"""Devices: registration, one FCM token per device, at most two active devices, idle sign-out."""

from __future__ import annotations

from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import select, update

from samaconso.identity.models import AuditEvent, Device
from samaconso.kit.db import Database
from samaconso.settings import Settings
from tests.identity.helpers import API, bearer, login, signup


async def test_register_list_and_remove_device(client: AsyncClient, settings: Settings) -> None:
    tokens = await signup(client, settings)
    headers = bearer(tokens)
    response = await client.post(
        f"{API}/me/devices",
        headers=headers,
        json={
            "device_id": "install-a",
            "fcm_token": "fcm-token-a",
            "model": "Tecno Spark",
            "platform": "android",
        },
    )
    assert response.status_code == 200, response.text
    device = response.json()
    assert device["current"] is True
    assert device["has_push"] is True
    assert "fcm_token" not in device
    listing = await client.get(f"{API}/me/devices", headers=headers)
    assert [d["id"] for d in listing.json()["items"]] == [device["id"]]
    # another customer cannot see or remove it
    other = await signup(client, settings)
    assert (await client.delete(f"{API}/me/devices/{device['id']}", headers=bearer(other))).status_code == 404
    assert (await client.get(f"{API}/me/devices", headers=bearer(other))).json()["items"] == []
    # removing the device signs out the session bound to it
    assert (await client.delete(f"{API}/me/devices/{device['id']}", headers=headers)).status_code == 204
    assert (await client.get(f"{API}/me", headers=headers)).status_code == 401


async def test_fcm_token_moves_to_the_new_device(
    client: AsyncClient, settings: Settings, db: Database
) -> None:
    first = await signup(client, settings, device_id="phone-1", fcm_token="shared-fcm-token")
    second = await signup(client, settings)
    response = await client.post(
        f"{API}/me/devices",
        headers=bearer(second),
        json={"device_id": "phone-2", "fcm_token": "shared-fcm-token"},
    )
    assert response.status_code == 200
    async with db.sessionmaker() as s:
        holders = (
            (await s.execute(select(Device).where(Device.fcm_token == "shared-fcm-token"))).scalars().all()
        )
        assert [d.device_id for d in holders] == ["phone-2"]
    devices = (await client.get(f"{API}/me/devices", headers=bearer(first))).json()["items"]
    assert devices[0]["device_id"] == "phone-1"
    assert devices[0]["has_push"] is False


async def test_third_device_signs_out_the_least_recently_used(
    client: AsyncClient, settings: Settings
) -> None:
    a = await signup(client, settings, device_id="dev-a", device_model="Samsung A10", fcm_token="fcm-a")
    phone = a["user"]["phone"]
    b = await login(client, phone, device_id="dev-b", device_model="iPhone 8", fcm_token="fcm-b")
    # dev-a is used again (refresh), so dev-b becomes the least recently used
    a2 = (await client.post(f"{API}/auth/refresh", json={"refresh_token": a["refresh_token"]})).json()
    c = await login(client, phone, device_id="dev-c", device_model="Itel P40", fcm_token="fcm-c")
    assert (await client.get(f"{API}/me", headers=bearer(b))).status_code == 401
    assert (await client.get(f"{API}/me", headers=bearer(a2))).status_code == 200
    assert (await client.get(f"{API}/me", headers=bearer(c))).status_code == 200
    devices = {
        d["device_id"]: d for d in (await client.get(f"{API}/me/devices", headers=bearer(c))).json()["items"]
    }
    assert devices["dev-b"]["is_active"] is False
    assert devices["dev-b"]["signed_out_reason"] == "device_limit"
    assert devices["dev-a"]["is_active"] is True
    assert devices["dev-c"]["is_active"] is True
    # one device a page, most recently used first, every device once
    seen, cursor = [], None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"{API}/me/devices", headers=bearer(c), params=params)).json()
        seen += [d["device_id"] for d in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["dev-c", "dev-a", "dev-b"]
    # the customer is told why, in the notification feed
    feed = await client.get(f"{API}/me/notifications", headers=bearer(c))
    assert feed.status_code == 200, feed.text
    items = [n for n in feed.json()["items"] if n["type"] == "device_signed_out"]
    assert len(items) == 1
    assert "iPhone 8" in items[0]["body"]
    # signing back in on dev-b is allowed and signs out the now least recently used (dev-a)
    await login(client, phone, device_id="dev-b")
    assert (await client.get(f"{API}/me", headers=bearer(a2))).status_code == 401


async def test_idle_devices_are_signed_out_by_the_periodic_task(
    client: AsyncClient, settings: Settings, db: Database, app: FastAPI
) -> None:
    from samaconso.identity import service

    old = await signup(client, settings, device_id="old-phone")
    fresh = await signup(client, settings, device_id="fresh-phone")
    async with db.sessionmaker() as s:
        await s.execute(
            update(Device)
            .where(Device.device_id == "old-phone")
            .values(last_seen_at=Device.created_at - _days(31))
        )
        await s.commit()
    redis = app.state.redis

    async def forget(ids: object) -> None:
        await redis.delete(*(f"authsess:{i}" for i in ids))  # type: ignore[attr-defined]

    from samaconso.kit.transaction import unit_of_work
    from samaconso.notifications.service import notify_user

    async with unit_of_work(db.sessionmaker) as s:
        ctx = service.Ctx(session=s, settings=settings, forget=forget, notify=notify_user)
        count = await service.sign_out_idle_devices(ctx)
    assert count == 1
    assert (await client.get(f"{API}/me", headers=bearer(old))).status_code == 401
    assert (await client.get(f"{API}/me", headers=bearer(fresh))).status_code == 200
    async with db.sessionmaker() as s:
        events = (
            await s.execute(select(AuditEvent.details).where(AuditEvent.event == "device_signed_out"))
        ).scalars()
        assert [e["reason"] for e in events] == ["idle"]


def _days(n: int) -> object:
    from datetime import timedelta

    return timedelta(days=n)


def test_idle_task_is_scheduled_on_low_priority() -> None:
    from samaconso.worker import BEAT_SCHEDULE, route_for

    names = [entry["task"] for entry in BEAT_SCHEDULE.values()]
    assert "samaconso.identity.tasks.sign_out_idle_devices" in names
    assert route_for("samaconso.identity.tasks.sign_out_idle_devices") == "low_priority"
    assert route_for("samaconso.identity.tasks.send_sms") == "urgent"


def test_idle_sign_out_task_entry_point(settings: Settings, db: Database) -> None:
    """The Celery entry point itself (what beat triggers), run the way a worker runs it."""
    import uuid

    import psycopg

    from samaconso.identity.tasks import sign_out_idle_devices

    url = settings.database_url.replace("+asyncpg", "")
    user_id = uuid.uuid4()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO users (id, role, phone) VALUES (%s, 'customer', %s)", (user_id, "+221780000001")
        )
        for key, age in (("stale", "40 days"), ("recent", "2 days")):
            conn.execute(
                "INSERT INTO devices (id, user_id, device_id, last_seen_at) VALUES (%s, %s, %s, now() - %s::interval)",
                (uuid.uuid4(), user_id, key, age),
            )
        conn.execute(
            "INSERT INTO otp_codes (id, phone, purpose, code_hash, created_at, expires_at) VALUES "
            "(%s, '+221780000001', 'signup', 'x', now() - interval '2 days', now() - interval '2 days'), "
            "(%s, '+221780000001', 'signup', 'y', now(), now() + interval '5 minutes')",
            (uuid.uuid4(), uuid.uuid4()),
        )
    assert sign_out_idle_devices.apply().get() == 1
    with psycopg.connect(url) as conn:
        rows: dict[str, bool] = dict(
            conn.execute("SELECT device_id, is_active FROM devices WHERE user_id = %s", (user_id,)).fetchall()
        )
        codes = [r[0] for r in conn.execute("SELECT code_hash FROM otp_codes").fetchall()]
    assert rows == {"stale": False, "recent": True}
    assert codes == ["y"]  # codes older than a day are forgotten
