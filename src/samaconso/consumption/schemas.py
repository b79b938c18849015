"""Consumption API shapes: prepaid purchases, postpaid bills, monthly totals, home summary."""

from __future__ import annotations

import uuid
from datetime import date as Date
from datetime import datetime

from pydantic import BaseModel

from samaconso.meters.models import MeterKind


class TrancheLine(BaseModel):
    tranche: int
    kwh: float
    unit_price: float | None = None  # FCFA/kWh before tax (prepaid)
    amount: float | None = None  # FCFA before tax (prepaid)


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
    kwh: float
    amount: float


class MonthlyOut(BaseModel):
    meter_id: uuid.UUID
    year: int
    months: list[MonthTotal]  # always 12, zero when nothing was bought/billed


class SummaryOut(BaseModel):
    meter_id: uuid.UUID
    kind: MeterKind
    year: int
    month: int
    kwh_this_month: float
    amount_this_month: float
    purchases_this_month: int | None = None
    monthly_fee_paid: bool | None = None
    # reached this month (prepaid) or on the last bill (postpaid), per the meter's tariff grid;
    # None when no grid of that tariff is in force
    tranche: int | None
    kwh_left_in_tranche: float | None  # before the next tranche starts; None in the last one
    last_purchase: PurchaseOut | None = None
    last_bill: BillOut | None = None
