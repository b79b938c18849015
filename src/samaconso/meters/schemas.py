"""Meters API shapes."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field, field_validator, model_validator

from samaconso.kit.errors import LocalizedValueError
from samaconso.kit.request_body import RequestBody
from samaconso.legacy.numbers import luhn_valid
from samaconso.meters.models import LinkStatus, MeterKind

PREPAID_LENGTHS = (11, 13)
CONTRACT_LENGTHS = range(6, 13)


def clean_number(raw: str) -> str:
    return "".join(ch for ch in raw if not ch.isspace() and ch not in "-.")


class MeterAdd(RequestBody):
    kind: MeterKind
    number: str = Field(min_length=1, max_length=32, description="Prepaid meter number or contract account.")

    @field_validator("number")
    @classmethod
    def _strip(cls, value: str) -> str:
        return clean_number(value)

    @model_validator(mode="after")
    def _format(self) -> MeterAdd:
        if self.kind == MeterKind.prepaid:
            if not (self.number.isdigit() and len(self.number) in PREPAID_LENGTHS):
                raise LocalizedValueError(
                    "Un numéro de compteur Woyofal compte 11 ou 13 chiffres.",
                    "A Woyofal meter number has 11 or 13 digits.",
                )
            if not luhn_valid(self.number):
                raise LocalizedValueError(
                    "Numéro de compteur invalide : vérifiez les chiffres saisis.",
                    "Invalid meter number: please check the digits.",
                )
        elif not (self.number.isdigit() and len(self.number) in CONTRACT_LENGTHS):
            raise LocalizedValueError(
                "Un numéro de compte contrat compte 6 à 12 chiffres.",
                "A contract account number has 6 to 12 digits.",
            )
        return self


class MeterOut(BaseModel):
    id: uuid.UUID
    kind: MeterKind
    number: str
    poc: str | None
    customer_name: str | None
    address: str | None
    tariff_code: str | None
    agency_id: uuid.UUID | None
    agency_name: str | None
    status: LinkStatus
    is_owner: bool
    is_default: bool
    linked_at: datetime


class Requester(BaseModel):
    user_id: uuid.UUID
    first_name: str
    last_name: str
    phone: str | None  # masked


class MeterBrief(BaseModel):
    id: uuid.UUID
    kind: MeterKind
    number: str


class AccessRequestOut(BaseModel):
    id: uuid.UUID
    status: LinkStatus
    meter: MeterBrief
    requester: Requester
    requested_at: datetime
    decided_at: datetime | None = None


class MemberOut(BaseModel):
    link_id: uuid.UUID = Field(
        description="Staff decide a pending or expired link at the counter by this id."
    )
    user_id: uuid.UUID
    status: LinkStatus
    is_owner: bool


class StaffMeterOut(BaseModel):
    id: uuid.UUID
    kind: MeterKind
    number: str
    customer_name: str | None
    address: str | None
    legacy_agency: str | None
    agency_id: uuid.UUID | None
    links: list[MemberOut]


class SuggestionOut(BaseModel):
    """A meter or contract the legacy systems register under my phone, not yet in my list."""

    kind: MeterKind
    number: str
    customer_name: str | None
