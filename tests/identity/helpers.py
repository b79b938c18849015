"""Helpers for the identity tests: read the SMS outbox, sign up and log in through the API."""

from __future__ import annotations

import re
import uuid
from typing import Any

from httpx import AsyncClient

from samaconso.kit.sinks import JsonlSink
from samaconso.settings import Settings

API = "/api/v1"


def sms_to(settings: Settings, phone: str) -> list[dict[str, Any]]:
    return [r for r in JsonlSink(settings.outbox_dir, "sms", echo=False).tail(500) if r.get("to") == phone]


def last_code(settings: Settings, phone: str) -> str:
    messages = sms_to(settings, phone)
    assert messages, f"no SMS sent to {phone}"
    found = re.search(r"\b(\d{6})\b", messages[-1]["message"])
    assert found, "the last SMS carries no code"
    return found.group(1)


def new_phone() -> str:
    return "+22177" + f"{uuid.uuid4().int % 10_000_000:07d}"


async def request_code(client: AsyncClient, settings: Settings, phone: str, purpose: str = "signup") -> str:
    response = await client.post(f"{API}/auth/otp", json={"phone": phone, "purpose": purpose})
    assert response.status_code == 202, response.text
    return last_code(settings, phone)


async def signup(
    client: AsyncClient, settings: Settings, phone: str | None = None, pin: str = "2580", **extra: Any
) -> dict[str, Any]:
    phone = phone or new_phone()
    code = await request_code(client, settings, phone)
    body = {"phone": phone, "otp": code, "pin": pin, "first_name": "Awa", "last_name": "Diop", **extra}
    response = await client.post(f"{API}/auth/signup", json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def login(client: AsyncClient, phone: str, pin: str = "2580", **extra: Any) -> dict[str, Any]:
    response = await client.post(f"{API}/auth/login", json={"phone": phone, "pin": pin, **extra})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}
