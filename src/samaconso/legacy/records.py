"""Typed records of what the legacy systems answer, built from their rows in ONE place.

The SQL Server column names (``nomClient``, ``N PARTENAIRE``, ``ENERGIE_VENDUE``…) stop here: the
services read these dataclasses. Rows arrive JSON-ready (see ``gateway._jsonable``); the gateway
caches the rows and converts on the way out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from typing import Any

Row = dict[str, Any]


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def _dt(value: Any) -> datetime:
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    # legacy datetimes are Dakar local time, which is UTC all year round
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _d(value: Any) -> date | None:
    if value is None:
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _texts(row: Row, columns: dict[str, str]) -> dict[str, str | None]:
    """``{field: text of row[column]}``: the records whose fields are plain texts of one column each
    are built from one column map, not a constructor of repeated ``_text(row.get(...))``."""
    return {field: _text(row.get(column)) for field, column in columns.items()}


TRANCHES = (1, 2, 3)


@dataclass(frozen=True)
class MeterRecord:
    """A prepaid meter (SIC HEXING check) or a postpaid contract account (SIC contract check)."""

    poc: str | None
    partner: str | None
    tariff_code: str | None
    customer_name: str | None
    address: str | None
    phone: str | None  # as the legacy system stores it (national or international, unchecked)
    agency: str | None  # legacy agency name


def meter_from_json(data: dict[str, Any]) -> MeterRecord:
    """A cached :class:`MeterRecord` (extra keys, e.g. an older cache entry's, are ignored)."""
    return MeterRecord(**{f.name: data.get(f.name) for f in fields(MeterRecord)})


# MeterRecord field -> column, per source (a postpaid contract has no POC).
PREPAID_METER_COLUMNS = {
    "poc": "poc",
    "partner": "id_client",
    "tariff_code": "usage",
    "customer_name": "nomClient",
    "address": "adresse",
    "phone": "tel",
    "agency": "agence",
}
POSTPAID_CONTRACT_COLUMNS = {
    "partner": "N PARTENAIRE",
    "tariff_code": "TARIF",
    "customer_name": "CLIENT",
    "address": "ADRESSE",
    "phone": "TELEPHONE",
    "agency": "AGENCE",
}


def prepaid_meter(row: Row) -> MeterRecord:
    return MeterRecord(**_texts(row, PREPAID_METER_COLUMNS))


def postpaid_contract(row: Row) -> MeterRecord:
    return MeterRecord(poc=None, **_texts(row, POSTPAID_CONTRACT_COLUMNS))


@dataclass(frozen=True)
class TrancheLine:
    tranche: int
    kwh: float
    unit_price: float | None = None
    amount: float | None = None


@dataclass(frozen=True)
class PurchaseRecord:
    """One Woyofal purchase (SIC vending records)."""

    order_number: str | None
    date: datetime
    amount: float  # paid by the customer
    kwh: float
    tranches: tuple[TrancheLine, ...]
    amount_excl_tax: float | None
    vat: float | None
    municipal_tax: float | None
    amount_incl_tax: float | None
    debt_recovered: float | None
    debt_remaining: float | None
    rounding: float | None
    tokens: tuple[str, ...]
    channel: str | None
    operator: str | None

    @property
    def monthly_fee(self) -> float | None:
        """What the TTC amount holds beyond energy and taxes: the monthly fee (0 after the first
        purchase of the month); None when a part is missing."""
        parts = (self.amount_incl_tax, self.amount_excl_tax, self.vat, self.municipal_tax)
        if any(p is None for p in parts):
            return None
        ttc, ht, vat, tco = (p or 0.0 for p in parts)
        # "+ 0.0" turns the -0.0 that float subtraction can leave into 0.0
        return round(ttc - ht - vat - tco, 2) + 0.0


def purchase(row: Row) -> PurchaseRecord:
    paid = row.get("MONTANT_RECU")
    if paid is None:
        paid = row.get("MONTANT_TTC") or 0.0
    tokens = str(row.get("TOKEN") or "").replace(";", " ").replace(",", " ").split()
    return PurchaseRecord(
        order_number=_text(row.get("NUMERO_COMMANDE")),
        date=_dt(row["DATE_TRANSACTION"]),
        amount=float(paid),
        kwh=float(row.get("ENERGIE_VENDUE") or 0.0),
        tranches=tuple(
            TrancheLine(
                tranche=i,
                kwh=float(row.get(f"ENERGIE{i}") or 0.0),
                unit_price=_num(row.get(f"PRIX{i}")),
                amount=_num(row.get(f"MONTANT{i}")),
            )
            for i in TRANCHES
        ),
        amount_excl_tax=_num(row.get("MONTANT_HT")),
        vat=_num(row.get("MONTANT_TVA")),
        municipal_tax=_num(row.get("MONTANT_TCO")),
        amount_incl_tax=_num(row.get("MONTANT_TTC")),
        debt_recovered=_num(row.get("DETTES")),
        debt_remaining=_num(row.get("SOLDE_DETTE")),
        rounding=_num(row.get("ARRONDI")),
        tokens=tuple(tokens),
        channel=_text(row.get("NOM_AGENCE_ENCAISSEMENT")),
        operator=_text(row.get("NOM_OPERATEUR")),
    )


@dataclass(frozen=True)
class BillRecord:
    """One postpaid bill (HISTH2MC)."""

    number: str
    date: dt.date
    due_date: dt.date | None
    days: int | None
    billing_month: Any
    billing_year: Any
    kwh: float
    tranches: tuple[TrancheLine, ...]
    amount_excl_tax: float | None
    vat: float | None
    municipal_tax: float | None
    amount: float
    meter_serial: str | None


def bill(row: Row) -> BillRecord:
    billed = _d(row["DATFACT"])
    assert billed is not None
    days = row.get("NBJRS_")
    return BillRecord(
        number=str(row.get("numFact")),
        date=billed,
        due_date=_d(row.get("DATE_ECHEANCE") or row.get("DATEECH")),
        days=None if days is None else int(days),
        billing_month=row.get("moisFacturation"),
        billing_year=row.get("anneeFacturation"),
        kwh=float(row.get("BT_CONSTOT") or row.get("CONSOMMATION TOTALE") or 0.0),
        tranches=tuple(
            TrancheLine(tranche=i, kwh=float(row.get(f"CONSO_TRANCHE{i}") or row.get(f"BT_CONSOM{i}") or 0.0))
            for i in TRANCHES
        ),
        amount_excl_tax=_num(row.get("BT_MONT_HT")),
        vat=_num(row.get("MONT_TVA")),
        municipal_tax=_num(row.get("BT_MONT_TCO")),
        amount=float(row.get("BT_MONT_TTC") or row.get("MONTANT") or 0.0),
        meter_serial=_text(row.get("NOCPTEUR")),
    )


@dataclass(frozen=True)
class MonthTotal:
    month: int
    kwh: float
    amount: float


def month_total(row: Row) -> MonthTotal:
    return MonthTotal(
        month=int(row["Mois"]),
        kwh=float(row.get("Total énergie") or 0),
        amount=float(row.get("Total TTC") or 0),
    )


@dataclass(frozen=True)
class ContractDetails:
    holder: str | None
    address: str | None
    partner: str | None
    tariff: str | None


CONTRACT_DETAILS_COLUMNS = {
    "holder": "nompres",
    "address": "add_liv",
    "partner": "numpartenaire",
    "tariff": "tarif",
}


def contract_details(row: Row) -> ContractDetails:
    return ContractDetails(**_texts(row, CONTRACT_DETAILS_COLUMNS))


@dataclass(frozen=True)
class SapAccount:
    """A contract account registered under a phone number (BI_ODS SAP extract)."""

    contract_account: str | None
    customer_name: str | None
    email: str | None


SAP_ACCOUNT_COLUMNS = {"contract_account": "COMPTE CONTRAT", "customer_name": "CLIENT", "email": "EMAIL"}


def sap_account(row: Row) -> SapAccount:
    return SapAccount(**_texts(row, SAP_ACCOUNT_COLUMNS))


@dataclass(frozen=True)
class PhoneMeter:
    """A meter or contract the legacy systems list under a phone number."""

    kind: str  # "prepaid" | "postpaid"
    number: str
    customer_name: str | None


def prepaid_admin(row: Row) -> PhoneMeter | None:
    number = row.get("MT_COMM_ADDR")
    if not number:
        return None
    return PhoneMeter(kind="prepaid", number=str(number), customer_name=_text(row.get("NOM_CLIENT")))


@dataclass(frozen=True)
class NoticeStep:
    """One step of a subscription request (BI_ODS), with the request's header fields."""

    code: str
    label: str | None
    finished_on: date | None
    finished_at_time: str | None
    updated_at: datetime | None
    phone: str | None  # as stored, unchecked
    status: str | None
    first_name: str | None
    last_name: str | None


def notice_step(row: Row) -> NoticeStep:
    finished = _d(row.get("DATE_TERM")) if row.get("DATE_TERM") else None
    updated = row.get("DT_DERNIERE_MAJ")
    return NoticeStep(
        code=str(row.get("CODE_ETAPE")),
        label=_text(row.get("DESC_ETAPE")),
        finished_on=finished,
        finished_at_time=_text(row.get("HEURE_TERM")) if row.get("DATE_TERM") else None,
        updated_at=_dt(updated) if updated else None,
        phone=_text(row.get("TELEPHONE")),
        status=_text(row.get("STATUT_AVIS")),
        first_name=_text(row.get("PRENOM")),
        last_name=_text(row.get("NOM")),
    )
