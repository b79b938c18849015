"""Request and response bodies of the identity API. Nothing secret is ever part of a response
model except the caller's own freshly issued tokens."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StrictBool, StringConstraints

from samaconso.identity.models import AuthSource, OtpPurpose, Role
from samaconso.identity.phones import InvalidPhone, normalize_phone, pin_problem
from samaconso.identity.weak_secrets import staff_password_problem
from samaconso.kit.errors import LocalizedValueError
from samaconso.kit.request_body import RequestBody

_PHONE_CHARS = re.compile(r"^[0-9+ .()-]+$")


def _phone(value: str) -> str:
    try:
        if not _PHONE_CHARS.match(value):  # phonenumbers would skip other characters ("77…*")
            raise InvalidPhone("unexpected characters")
        return normalize_phone(value)
    except InvalidPhone:
        raise LocalizedValueError(
            "Numéro de mobile sénégalais invalide (ex. 77 123 45 67).",
            "Invalid Senegalese mobile number (e.g. 77 123 45 67).",
        ) from None


def _pin(value: str) -> str:
    problem = pin_problem(value)
    if problem:
        raise LocalizedValueError(*problem)
    return value


_LOGIN_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


def _login(value: str) -> str:
    value = value.strip().lower()
    if not _LOGIN_RE.match(value):
        raise LocalizedValueError(
            "Identifiant invalide (lettres, chiffres, . _ -).", "Invalid login (letters, digits, . _ -)."
        )
    return value


def _staff_password(value: str) -> str:
    if staff_password_problem(value):
        raise LocalizedValueError(
            "Mot de passe trop faible (12 caractères au moins, lettres et chiffres).",
            "Password too weak (at least 12 characters, letters and digits).",
        )
    return value


# What the validators accept, said in the schema for generated clients (the server also accepts spaces
# and dots inside a phone number: "77 123 45 67").
PHONE_PATTERN = r"^(\+221|00221)?7[025678][0-9]{7}$"
# 4 to 6 digits, not one digit repeated, not a straight sequence (identity.phones.pin_problem)
PIN_PATTERN = r"^(?!([0-9])\1+$)(?!(?:0123|1234|2345|3210|3456|4321|4567|5432|5678|6543|6789|7654|8765|9876|01234|12345|23456|34567|43210|45678|54321|56789|65432|76543|87654|98765|012345|123456|234567|345678|456789|543210|654321|765432|876543|987654)$)[0-9]{4,6}$"
Phone = Annotated[
    str,
    StringConstraints(max_length=32),
    AfterValidator(_phone),
    Field(json_schema_extra={"pattern": PHONE_PATTERN}, examples=["+221771234567"]),
]
Pin = Annotated[
    str,
    StringConstraints(max_length=6),
    AfterValidator(_pin),
    Field(json_schema_extra={"pattern": PIN_PATTERN}, examples=["2580"]),
]
AnyPin = Annotated[str, StringConstraints(min_length=1, max_length=12)]
OtpCode = Annotated[str, StringConstraints(pattern=r"^\d{6}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
Login = Annotated[str, StringConstraints(max_length=64), AfterValidator(_login)]
StaffPassword = Annotated[str, StringConstraints(max_length=256), AfterValidator(_staff_password)]
DeviceKey = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
FcmToken = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4096)]
Language = Literal["fr", "en"]


class _In(RequestBody):
    # Unknown fields (role, agency_id, is_active…) are refused (422 ``extra_forbidden``, kit/request_body).
    pass


class OtpRequest(_In):
    phone: Phone
    purpose: OtpPurpose


class Accepted(BaseModel):
    status: Literal["accepted"] = "accepted"
    expires_in: int


class SignupRequest(_In):
    phone: Phone
    otp: OtpCode
    pin: Pin
    first_name: Name
    last_name: Name
    email: EmailStr | None = None
    language: Language = "fr"
    device_id: DeviceKey | None = None
    device_model: str | None = Field(default=None, max_length=120)
    platform: str | None = Field(default=None, max_length=20)
    fcm_token: FcmToken | None = None


class LoginRequest(_In):
    phone: Phone
    pin: AnyPin
    device_id: DeviceKey | None = None
    device_model: str | None = Field(default=None, max_length=120)
    platform: str | None = Field(default=None, max_length=20)
    fcm_token: FcmToken | None = None


class StaffLoginRequest(_In):
    login: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$"),
    ]
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class RefreshRequest(_In):
    refresh_token: Annotated[str, StringConstraints(min_length=10, max_length=200)]


class LogoutRequest(_In):
    all: StrictBool = False


class PinResetRequest(_In):
    phone: Phone
    otp: OtpCode
    new_pin: Pin


class PinChangeRequest(_In):
    current_pin: AnyPin
    new_pin: Pin


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    role: Role
    phone: str | None
    login: str | None
    first_name: str
    last_name: str
    email: str | None
    language: str
    agency_id: uuid.UUID | None
    auth_source: AuthSource
    is_active: bool
    has_avatar: bool
    created_at: datetime


class TokenPair(BaseModel):
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    user: UserOut
    # The secret used (carried from v2) breaks today's rules: the app must have a new one chosen now.
    pin_change_required: bool = False
    password_change_required: bool = False


class MePatch(_In):
    first_name: Name | None = None
    last_name: Name | None = None
    email: EmailStr | None = None
    language: Language | None = None


class DeviceIn(_In):
    device_id: DeviceKey
    fcm_token: FcmToken
    model: str | None = Field(default=None, max_length=120)
    platform: str | None = Field(default=None, max_length=20)


class DeviceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    device_id: str
    model: str | None
    platform: str | None
    is_active: bool
    has_push: bool
    last_seen_at: datetime
    created_at: datetime
    signed_out_at: datetime | None
    signed_out_reason: str | None
    current: bool = False


class StaffCreate(_In):
    login: Login
    role: Literal["agent", "admin"]
    agency_id: uuid.UUID | None = None
    first_name: Name
    last_name: Name
    email: EmailStr | None = None
    auth_source: AuthSource = AuthSource.local
    password: StaffPassword | None = None


class StaffPatch(_In):
    role: Literal["agent", "admin"] | None = None
    agency_id: uuid.UUID | None = None
    first_name: Name | None = None
    last_name: Name | None = None
    email: EmailStr | None = None
    is_active: StrictBool | None = None
    auth_source: AuthSource | None = None
    password: StaffPassword | None = None


class AgencyIn(_In):
    code: Annotated[
        str,
        StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9]{2,32}$"),
        AfterValidator(str.upper),
    ]
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=120)]
    region: Annotated[str, StringConstraints(strip_whitespace=True, max_length=80)] | None = None


class AgencyPatch(_In):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=120)] | None = None
    region: Annotated[str, StringConstraints(strip_whitespace=True, max_length=80)] | None = None
    is_active: StrictBool | None = None


class AgencyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    code: str
    name: str
    region: str | None
    is_active: bool
    created_at: datetime


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    at: datetime
    event: str
    user_id: uuid.UUID | None
    actor_id: uuid.UUID | None
    ip: str | None
    details: dict[str, object]
