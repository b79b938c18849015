"""Pydantic shapes of the tariffs API. Amounts and kWh are exact decimals, sent as JSON numbers."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field, PlainSerializer, StrictBool, model_validator

from samaconso.kit.errors import LocalizedValueError
from samaconso.kit.request_body import RequestBody

Num = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]
OptNum = Annotated[
    Decimal | None,
    PlainSerializer(lambda v: None if v is None else float(v), return_type=float | None, when_used="json"),
]
TariffCode = Annotated[str, Field(pattern=r"^[A-Z0-9_]{2,20}$", description="Tariff code, e.g. DPP, PPP.")]


# ------------------------------------------------------------------------------------- grid in/out
class TrancheIn(RequestBody):
    kwh_from: Annotated[Decimal, Field(ge=0, le=100_000, decimal_places=1)]
    kwh_to: Annotated[Decimal | None, Field(gt=0, le=100_000, decimal_places=1)] = None
    price_postpaid: Annotated[Decimal, Field(gt=0, le=10_000, decimal_places=2)]
    price_prepaid: Annotated[Decimal, Field(gt=0, le=10_000, decimal_places=2)]


class BandIn(RequestBody):
    kwh_min: Annotated[Decimal, Field(ge=0, le=100_000, decimal_places=1)]
    kwh_max: Annotated[Decimal | None, Field(gt=0, le=100_000, decimal_places=1)] = None
    color_hex: Annotated[str, Field(pattern=r"^#[0-9A-Fa-f]{6}$")]
    label_fr: Annotated[str, Field(min_length=1, max_length=80)]
    label_en: Annotated[str, Field(min_length=1, max_length=80)]


class TariffVersionIn(RequestBody):
    code: TariffCode
    label: Annotated[str, Field(min_length=1, max_length=160)]
    effective_from: date
    effective_to: date | None = None
    monthly_fee: Annotated[Decimal, Field(ge=0, le=100_000, decimal_places=2)]
    municipal_tax_rate: Annotated[Decimal, Field(ge=0, le=1, decimal_places=4)]
    vat_rate: Annotated[Decimal, Field(ge=0, le=1, decimal_places=4)]
    vat_from_kwh: Annotated[Decimal | None, Field(ge=0, le=100_000, decimal_places=1)] = None
    minimum_purchase: Annotated[Decimal, Field(ge=0, le=1_000_000, decimal_places=2)] = Decimal(1000)
    tranches: Annotated[list[TrancheIn], Field(min_length=1, max_length=10)]
    bands: Annotated[list[BandIn] | None, Field(max_length=10)] = None


class TrancheOut(BaseModel):
    position: int
    kwh_from: Num
    kwh_to: OptNum
    price_postpaid: Num
    price_prepaid: Num


class Threshold(BaseModel):
    tranche: int
    amount: Num = Field(description="FCFA (first purchase of the month) at which this tranche is full.")


class TariffVersionOut(BaseModel):
    id: uuid.UUID
    code: str
    label: str
    effective_from: date
    effective_to: date | None
    in_force: bool
    monthly_fee: Num
    municipal_tax_rate: Num
    vat_rate: Num
    vat_from_kwh: OptNum
    minimum_purchase: Num
    tranches: list[TrancheOut]
    prepaid_thresholds: list[Threshold]
    created_at: datetime


class BandOut(BaseModel):
    position: int
    kwh_min: Num
    kwh_max: OptNum
    color_hex: str
    label: str


# -------------------------------------------------------------------------------------- simulator
class SimulationIn(RequestBody):
    amount: Annotated[
        Decimal | None, Field(gt=0, le=10_000_000, decimal_places=0, description="Whole FCFA to spend.")
    ] = None
    kwh: Annotated[Decimal | None, Field(gt=0, le=50_000, decimal_places=1)] = None
    meter_id: uuid.UUID | None = None
    tariff_code: TariffCode | None = None
    month_to_date_kwh: Annotated[
        Decimal | None,
        Field(
            ge=0, le=50_000, decimal_places=1, description="Without meter_id: kWh already bought this month."
        ),
    ] = None
    fee_paid: StrictBool | None = Field(
        default=None, description="Without meter_id: monthly fee already paid."
    )
    on: date | None = Field(
        default=None, description="Purchase date (default: today); picks the grid in force."
    )

    @model_validator(mode="after")
    def _one_question(self) -> SimulationIn:
        if (self.amount is None) == (self.kwh is None):
            raise LocalizedValueError(
                "indiquez soit un montant (amount), soit une quantité (kwh)", "give either amount or kwh"
            )
        if self.meter_id is not None and (self.month_to_date_kwh is not None or self.fee_paid is not None):
            raise LocalizedValueError(
                "avec un compteur, la consommation du mois vient de Senelec",
                "with a meter, the month's purchases come from Senelec",
            )
        return self


class LineOut(BaseModel):
    tranche: int
    kwh: Num
    unit_price: Num
    energy_amount: Num
    municipal_tax: Num
    vat: Num
    amount: Num


class SplitOut(BaseModel):
    now_amount: Num
    now_kwh: Num
    next_month_amount: Num
    next_month_kwh: Num
    total_kwh: Num
    extra_kwh: Num


class AdviceOut(BaseModel):
    crosses_tranche: bool
    current_tranche: int
    kwh_left_in_current_tranche: OptNum
    cost_to_finish_tranche: OptNum
    split: SplitOut | None
    message: str | None


class TariffRef(BaseModel):
    code: str
    version_id: uuid.UUID
    label: str
    effective_from: date


class MeterRef(BaseModel):
    id: uuid.UUID
    number: str


class VendingInfo(BaseModel):
    receipt_no: str | None
    units: OptNum
    tariff_name: str | None


class SimulationOut(BaseModel):
    source: Literal["engine", "vending"]
    fallback_reason: str | None = Field(
        description="Why the engine answered: no_meter, xmlvend_disabled, certificate_expired, "
        "certificate_unavailable, vending_unavailable, vending_error, not_today (a past or future date)"
    )
    question: Literal["amount", "kwh"]
    tariff: TariffRef
    meter: MeterRef | None
    month_to_date_kwh: Num
    month_to_date_known: bool
    fee_already_paid: bool
    amount: Num = Field(description="Money handed over (amount question) or exact cost (kwh question).")
    amount_to_pay: Num = Field(description="Whole francs to pay, at least the minimum purchase.")
    kwh: Num
    tranches: list[LineOut]
    monthly_fee: Num
    energy_amount: Num
    municipal_tax: Num
    vat: Num
    total: Num = Field(description="Fee + tranche amounts.")
    rounding: Num = Field(description="Left over by the 0.1 kWh resolution (not charged).")
    advice: AdviceOut | None
    vending: VendingInfo | None = None


class PostpaidIn(RequestBody):
    kwh: Annotated[Decimal, Field(ge=0, le=100_000, decimal_places=1)]
    days: Annotated[int, Field(ge=1, le=120, description="Billed days (a bill covers ~60).")] = 60
    tariff_code: TariffCode | None = None
    on: date | None = Field(default=None, description="Bill date (default: today); picks the grid in force.")


class PostpaidLineOut(BaseModel):
    tranche: int
    kwh: Num
    unit_price: Num
    amount: Num


class PostpaidOut(BaseModel):
    tariff: TariffRef
    kwh: Num
    days: int
    tranche_bounds: list[tuple[Num, OptNum]] = Field(description="Tranche kWh bounds scaled by days/30.")
    tranches: list[PostpaidLineOut]
    energy_amount: Num
    monthly_fee: Num
    municipal_tax: Num
    vat: Num
    total: Num = Field(
        description="Lines + municipal tax + VAT, to the centime (the legacy bill rule; no monthly fee)."
    )
