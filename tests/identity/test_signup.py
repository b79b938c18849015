"""Sign-up by SMS code: phone normalisation, code lifetime, tries, quotas, smuggled privileges refused."""

from __future__ import annotations

import pytest
from httpx import AsyncClient
from sqlalchemy import select, update

from samaconso.identity.models import OtpCode, Role, User
from samaconso.identity.phones import InvalidPhone, normalize_phone, pin_problem
from samaconso.kit.db import Database
from samaconso.settings import Settings
from tests.identity.helpers import API, bearer, last_code, new_phone, request_code, signup, sms_to


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("77 123 45 67", "+221771234567"),
        ("771234567", "+221771234567"),
        ("00221 77 123 45 67", "+221771234567"),
        ("+221 70 123 45 67", "+221701234567"),
        ("+221781234567", "+221781234567"),
        ("76-123-45-67", "+221761234567"),
    ],
)
def test_phone_normalisation(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    "raw", ["33 823 45 67", "+33612345678", "79 123 45 67", "7712345", "abc", "", "+2217712345678"]
)
def test_phone_refused(raw: str) -> None:
    with pytest.raises(InvalidPhone):
        normalize_phone(raw)


@pytest.mark.parametrize(
    "pin", ["1234", "9876", "0000", "111111", "123", "1234567", "12a4", "456789", "٣٤٥٦"]
)
def test_weak_pins_refused(pin: str) -> None:
    assert pin_problem(pin) is not None


@pytest.mark.parametrize("pin", ["2580", "1357", "908172", "11223", "1243"])
def test_good_pins_accepted(pin: str) -> None:
    assert pin_problem(pin) is None


async def test_signup_with_code_creates_customer(
    client: AsyncClient, settings: Settings, db: Database
) -> None:
    response = await client.post(f"{API}/auth/otp", json={"phone": "77 555 12 34", "purpose": "signup"})
    assert response.status_code == 202
    assert response.json() == {"status": "accepted", "expires_in": 300}
    assert "code" not in response.text
    assert "otp" not in response.json()
    code = last_code(settings, "+221775551234")
    body = {
        "phone": "0022177 555 12 34",
        "otp": code,
        "pin": "2580",
        "first_name": "Awa",
        "last_name": "Diop",
        "email": "awa@example.sn",
    }
    # privileges smuggled in the body are refused, each unknown field named (the code stays usable)
    smuggled = {
        "role": "admin",
        "agency_id": "00000000-0000-0000-0000-000000000001",
        "is_active": False,
        "failed_attempts": -100,
    }
    refused = await client.post(f"{API}/auth/signup", json=body | smuggled)
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "validation_error"
    assert {(e["field"], e["code"], e["message"]) for e in refused.json()["errors"]} == {
        (name, "extra_forbidden", "champ inconnu") for name in smuggled
    }
    response = await client.post(f"{API}/auth/signup", json=body)
    assert response.status_code == 201, response.text
    data = response.json()
    assert data["user"]["phone"] == "+221775551234"
    assert data["user"]["role"] == "customer"
    assert data["user"]["agency_id"] is None
    assert data["token_type"] == "bearer"
    me = await client.get(f"{API}/me", headers=bearer(data))
    assert me.status_code == 200
    assert me.json()["role"] == "customer"
    assert me.json()["is_active"] is True
    async with db.sessionmaker() as s:
        user = (await s.execute(select(User).where(User.phone == "+221775551234"))).scalar_one()
        assert user.role == Role.customer
        assert user.pin_hash
        assert user.pin_hash.startswith("$argon2id$")
        otp = (await s.execute(select(OtpCode).where(OtpCode.phone == "+221775551234"))).scalar_one()
        assert code not in otp.code_hash
        assert len(otp.code_hash) == 64


async def test_wrong_code_fails_and_three_tries_kill_it(client: AsyncClient, settings: Settings) -> None:
    phone = new_phone()
    code = await request_code(client, settings, phone)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    body = {"phone": phone, "pin": "2580", "first_name": "A", "last_name": "B"}
    for _ in range(3):
        response = await client.post(f"{API}/auth/signup", json={**body, "otp": wrong})
        assert response.status_code == 400
        assert response.json()["code"] == "otp_invalid"
    # the right code no longer works after three wrong tries
    response = await client.post(f"{API}/auth/signup", json={**body, "otp": code})
    assert response.status_code == 400


async def test_expired_code_fails(client: AsyncClient, settings: Settings, db: Database) -> None:
    phone = new_phone()
    code = await request_code(client, settings, phone)
    async with db.sessionmaker() as s:
        await s.execute(update(OtpCode).where(OtpCode.phone == phone).values(expires_at=OtpCode.created_at))
        await s.commit()
    body = {"phone": phone, "otp": code, "pin": "2580", "first_name": "A", "last_name": "B"}
    response = await client.post(f"{API}/auth/signup", json=body)
    assert response.status_code == 400
    assert response.json()["code"] == "otp_invalid"


async def test_reused_code_fails(client: AsyncClient, settings: Settings) -> None:
    phone = new_phone()
    code = await request_code(client, settings, phone)
    body = {"phone": phone, "otp": code, "pin": "2580", "first_name": "A", "last_name": "B"}
    assert (await client.post(f"{API}/auth/signup", json=body)).status_code == 201
    again = await client.post(f"{API}/auth/signup", json=body)
    assert again.status_code == 400
    assert again.json()["code"] == "otp_invalid"


async def test_code_message_in_english_when_asked(client: AsyncClient, settings: Settings) -> None:
    phone = new_phone()
    response = await client.post(
        f"{API}/auth/otp", json={"phone": phone, "purpose": "signup"}, headers={"Accept-Language": "en"}
    )
    assert response.status_code == 202
    assert sms_to(settings, phone)[-1]["message"].startswith("SamaConso: your sign-up code is ")


async def test_only_latest_code_counts(client: AsyncClient, settings: Settings) -> None:
    phone = new_phone()
    first = await request_code(client, settings, phone)
    second = await request_code(client, settings, phone)
    body = {"phone": phone, "pin": "2580", "first_name": "A", "last_name": "B"}
    if first != second:
        assert (await client.post(f"{API}/auth/signup", json={**body, "otp": first})).status_code == 400
    assert (await client.post(f"{API}/auth/signup", json={**body, "otp": second})).status_code == 201


async def test_three_codes_per_phone_per_hour(client: AsyncClient, settings: Settings) -> None:
    phone = new_phone()
    for _ in range(3):
        await request_code(client, settings, phone)
    response = await client.post(f"{API}/auth/otp", json={"phone": phone, "purpose": "signup"})
    assert response.status_code == 429
    assert 0 < int(response.headers["retry-after"]) <= 3600
    assert len(sms_to(settings, phone)) == 3


async def test_per_ip_limit_on_codes(client: AsyncClient, settings: Settings) -> None:
    statuses = []
    for _ in range(22):
        response = await client.post(f"{API}/auth/otp", json={"phone": new_phone(), "purpose": "signup"})
        statuses.append(response.status_code)
    assert statuses[:20] == [202] * 20
    assert statuses[20] == 429
    assert int(response.headers["retry-after"]) > 0


async def test_existing_phone_gets_no_code_but_same_answer(client: AsyncClient, settings: Settings) -> None:
    tokens = await signup(client, settings)
    phone = tokens["user"]["phone"]
    response = await client.post(f"{API}/auth/otp", json={"phone": phone, "purpose": "signup"})
    assert response.status_code == 202
    last = sms_to(settings, phone)[-1]["message"]
    assert "déjà un compte" in last
    # and a PIN-reset code for an unknown phone is "accepted" too, but nothing is sent
    unknown = new_phone()
    response = await client.post(f"{API}/auth/otp", json={"phone": unknown, "purpose": "pin_reset"})
    assert response.status_code == 202
    assert sms_to(settings, unknown) == []


async def test_bad_inputs_are_422(client: AsyncClient, settings: Settings) -> None:
    response = await client.post(f"{API}/auth/otp", json={"phone": "33 823 45 67", "purpose": "signup"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "phone"
    phone = new_phone()
    code = await request_code(client, settings, phone)
    for pin in ("1234", "0000", "12", "abcd"):
        response = await client.post(
            f"{API}/auth/signup",
            json={"phone": phone, "otp": code, "pin": pin, "first_name": "A", "last_name": "B"},
        )
        assert response.status_code == 422, pin
    # the code was not burnt by invalid bodies
    response = await client.post(
        f"{API}/auth/signup",
        json={"phone": phone, "otp": code, "pin": "2580", "first_name": "A", "last_name": "B"},
    )
    assert response.status_code == 201
