"""Consumption API shapes: prepaid purchases, postpaid bills, monthly totals, home summary."""

from __future__ import annotations

import uuid
from datetime import date as Date
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from samaconso.kit.request_body import RequestBody
from samaconso.meters.models import MeterKind


class TrancheLine(BaseModel):
    tranche: int
    kwh: float
    # FCFA/kWh before tax: the vending record's (prepaid), the grid in force on the bill's date
    # (postpaid); None for a bill whose tariff has no grid
    unit_price: float | None = None
    amount: float | None = None  # FCFA before tax: kWh × unit price, to the centime


class PurchaseOut(BaseModel):
    order_number: str | None
    date: datetime
    amount: float  # what the customer paid (FCFA)
    kwh: float
    tranches: list[TrancheLine]
    amount_excl_tax: float | None
    vat: float | None
    municipal_tax: float | None
    monthly_fee: float | None  # included in the paid amount (first purchase of the month)
    debt_recovered: float | None
    debt_remaining: float | None
    rounding: float | None
    tokens: list[str]
    channel: str | None
    operator: str | None


class BillOut(BaseModel):
    number: str
    date: Date
    due_date: Date | None
    days: int | None
    billing_month: int | None
    billing_year: int | None
    kwh: float
    tranches: list[TrancheLine]
    amount_excl_tax: float | None
    vat: float | None
    municipal_tax: float | None
    amount: float  # incl. tax (FCFA)
    meter_serial: str | None
    period_start: Date | None = Field(
        default=None, description="First billed day (the bill's date minus its billed days, plus one)."
    )
    other_charges: float | None = Field(
        default=None,
        description="Total incl. tax minus amount excl. tax, municipal tax and VAT (0 on every legacy bill: "
        "a postpaid bill has no monthly fee).",
    )
    tariff: str | None = Field(default=None, description="Tariff grid that prices the lines.")
    paid: bool | None = Field(
        default=None,
        description="Always null: the legacy bill history (Historique) records no payment; see due_date.",
    )


class ContractOut(BaseModel):
    contract_account: str
    holder: str | None
    address: str | None
    partner: str | None
    tariff: str | None
    agency: str | None
    email: str | None = None


class MonthTotal(BaseModel):
    month: int
    # prepaid: purchases of the month; postpaid: each bill spread evenly over the days it covers
    kwh: float
    amount: float
    last_year_kwh: float = Field(description="The same month of the year before, same rule.")
    last_year_amount: float = Field(description="The same month of the year before, same rule.")


class MonthlyOut(BaseModel):
    meter_id: uuid.UUID
    year: int
    months: list[MonthTotal]  # always 12, zero when nothing was bought/billed


class TranchePeriod(BaseModel):
    """The consumption the summary's tranche is computed on."""

    start: Date
    end: Date
    kwh: float


class SummaryOut(BaseModel):
    meter_id: uuid.UUID
    kind: MeterKind
    year: int
    month: int
    kwh_this_month: float
    amount_this_month: float
    purchases_this_month: int | None = None
    monthly_fee_paid: bool | None = None
    # postpaid kWh/FCFA this month: the month's share of the bills spread over the days they cover
    # reached this month (prepaid) or on the last bill (postpaid), per the meter's tariff grid;
    # None when no grid of that tariff is in force
    tranche: int | None
    kwh_left_in_tranche: float | None  # before the next tranche starts; None in the last one
    tranche_period: TranchePeriod | None = Field(
        default=None,
        description="What the tranche is computed on: this month so far (prepaid) or the period the "
        "last bill covers (postpaid; its widths scale with the billed days).",
    )
    last_purchase: PurchaseOut | None = None
    last_bill: BillOut | None = None


class MyPurchaseOut(PurchaseOut):
    """A purchase in the list across all my meters."""

    meter_id: uuid.UUID
    meter_number: str


class AlertIn(RequestBody):
    meter_id: uuid.UUID
    metric: Literal["kwh", "amount"] = Field(
        description="`kwh` in the month, or `amount` (FCFA) in the month."
    )
    threshold: float = Field(gt=0, le=10_000_000, description="Alert when the month reaches it.")


class AlertsIn(RequestBody):
    """The full set of my alerts (replaces the previous one); an empty list removes them all."""

    alerts: list[AlertIn] = Field(max_length=50)


class AlertOut(BaseModel):
    meter_id: uuid.UUID
    meter_number: str
    metric: Literal["kwh", "amount"]
    threshold: float
    last_sent_month: Date | None = Field(description="The last month the alert fired (once a month at most).")
