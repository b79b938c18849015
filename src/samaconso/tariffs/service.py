"""Tariffs rules: grid versions (admin), the Woyofal simulator (engine or vending), tranche alerts.

No FastAPI here. The engine (``engine.py``) is pure; this module fetches the grid in force, the
meter and the month's purchases, asks the vending system when it can, and shapes the answer.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.identity.principal import Principal
from samaconso.kit.db import Database
from samaconso.kit.errors import AppError, not_found
from samaconso.kit.i18n import Lang
from samaconso.kit.pagination import Page, encode_cursor, parse_cursor
from samaconso.kit.transaction import unit_of_work
from samaconso.legacy.gateway import LegacyGateway
from samaconso.meters import service as meters
from samaconso.meters.models import Meter, MeterKind
from samaconso.notifications.service import notify_user
from samaconso.settings import Settings
from samaconso.tariffs import engine
from samaconso.tariffs import repository as repo
from samaconso.tariffs.engine import Purchase, TariffError, TariffGrid, Tranche
from samaconso.tariffs.models import TariffVersion
from samaconso.tariffs.schemas import (
    AdviceOut,
    BandOut,
    LineOut,
    MeterRef,
    PostpaidIn,
    PostpaidLineOut,
    PostpaidOut,
    SimulationIn,
    SimulationOut,
    SplitOut,
    TariffRef,
    TariffVersionIn,
    TariffVersionOut,
    Threshold,
    TrancheOut,
    VendingInfo,
)
from samaconso.tariffs.xmlvend import (
    TrialVendResult,
    VendingError,
    XmlVendClient,
    load_client_identity,
    settings_key,
)

log = structlog.get_logger(__name__)

DEFAULT_TARIFF = "DPP"
ALERT_SHARE_OF_TRANCHE_1 = Decimal("0.8")
SCAN_BATCH = 200


def today_utc() -> date:
    return datetime.now(UTC).date()  # Senegal is UTC+0 all year


def tariff_code_of(raw: str | None) -> str:
    """A meter's tariff code as the grid knows it (legacy codes may be padded; none means DPP)."""
    return (raw or DEFAULT_TARIFF).strip().upper()


@dataclass(frozen=True)
class TrancheStatus:
    tranche: int
    kwh_left_in_tranche: Decimal | None  # before the next tranche; None in the last one


async def tranche_status(
    session: AsyncSession, tariff_code: str | None, kwh: Decimal, *, on: date, days: int = 30
) -> TrancheStatus | None:
    """Which tranche of the grid in force on ``on`` a consumption reached (``days``: the billed
    period, tranche widths scale with it). None when no grid of that tariff is in force."""
    version = await repo.version_in_force(session, tariff_code_of(tariff_code), on)
    if version is None:
        return None
    tranche, left = engine.tranche_reached(repo.to_grid(version), kwh, days=days)
    return TrancheStatus(tranche, left)


# =========================================================================================== grid
def version_out(version: TariffVersion, on: date | None = None) -> TariffVersionOut:
    grid = repo.to_grid(version)
    day = on or today_utc()
    return TariffVersionOut(
        id=version.id,
        code=version.code,
        label=version.label,
        effective_from=version.effective_from,
        effective_to=version.effective_to,
        in_force=version.effective_from <= day
        and (version.effective_to is None or day <= version.effective_to),
        monthly_fee=version.monthly_fee,
        municipal_tax_rate=version.municipal_tax_rate,
        vat_rate=version.vat_rate,
        vat_from_kwh=version.vat_from_kwh,
        minimum_purchase=version.minimum_purchase,
        tranches=[
            TrancheOut(
                position=t.position,
                kwh_from=t.kwh_from,
                kwh_to=t.kwh_to,
                price_postpaid=t.price_postpaid,
                price_prepaid=t.price_prepaid,
            )
            for t in version.tranches
        ],
        prepaid_thresholds=[Threshold(tranche=p, amount=a) for p, a in engine.tranche_thresholds(grid)],
        created_at=version.created_at,
    )


async def list_versions(
    session: AsyncSession, *, in_force_on: date | None, code: str | None, cursor: str | None, limit: int
) -> Page[TariffVersionOut]:
    after_raw = parse_cursor(cursor, str, date.fromisoformat)
    after = (after_raw[0], after_raw[1]) if after_raw else None
    rows = await repo.list_versions(session, on=in_force_on, code=code, after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(
        items=[version_out(v) for v in rows],
        next_cursor=encode_cursor(rows[-1].code, rows[-1].effective_from.isoformat())
        if more and rows
        else None,
    )


async def list_bands(
    session: AsyncSession, code: str, lang: Lang, *, cursor: str | None, limit: int
) -> Page[BandOut]:
    after_raw = parse_cursor(cursor, int)
    rows = await repo.bands_of(session, code, after=after_raw[0] if after_raw else None, limit=limit + 1)
    if not rows and after_raw is None and not await repo.code_exists(session, code):
        raise not_found("Tarif inconnu.", "Unknown tariff.")
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(
        items=[
            BandOut(
                position=b.position,
                kwh_min=b.kwh_min,
                kwh_max=b.kwh_max,
                color_hex=b.color_hex,
                label=b.label_fr if lang == "fr" else b.label_en,
            )
            for b in rows
        ],
        next_cursor=encode_cursor(rows[-1].position) if more and rows else None,
    )


def _invalid_grid(problems: list[str]) -> AppError:
    return AppError(
        422,
        "invalid_tariff_grid",
        "Grille tarifaire invalide : les tranches doivent se suivre sans trou ni chevauchement, "
        "la première commencer à 0 et seule la dernière être illimitée.",
        "Invalid tariff grid: tranches must be contiguous, start at 0, and only the last may be unbounded.",
        extra={"problems": problems},
    )


def _overlap(existing: TariffVersion) -> AppError:
    until = existing.effective_to.isoformat() if existing.effective_to else "…"
    return AppError(
        409,
        "tariff_version_overlap",
        f"Une version de ce tarif est déjà en vigueur du {existing.effective_from.isoformat()} au {until}.",
        f"A version of this tariff already applies from {existing.effective_from.isoformat()} to {until}.",
        extra={"conflicting_version_id": str(existing.id)},
    )


def grid_from_input(data: TariffVersionIn) -> TariffGrid:
    return TariffGrid(
        code=data.code,
        effective_from=data.effective_from,
        effective_to=data.effective_to,
        tranches=tuple(
            Tranche(i, t.kwh_from, t.kwh_to, t.price_postpaid, t.price_prepaid)
            for i, t in enumerate(data.tranches, start=1)
        ),
        monthly_fee=data.monthly_fee,
        municipal_tax_rate=data.municipal_tax_rate,
        vat_rate=data.vat_rate,
        vat_from_kwh=data.vat_from_kwh,
        minimum_purchase=data.minimum_purchase,
    )


def _band_problems(bands: list[tuple[Decimal, Decimal | None, str, str, str]]) -> list[str]:
    problems = []
    for i, (lo, hi, *_rest) in enumerate(bands):
        if hi is not None and hi <= lo:
            problems.append(f"band {i + 1}: kwh_max must exceed kwh_min")
        if i and bands[i - 1][1] != lo:
            problems.append(f"band {i + 1} must start where band {i} ends")
        if hi is None and i != len(bands) - 1:
            problems.append("only the last band may be unbounded")
    if bands and bands[0][0] != 0:
        problems.append("the first band must start at 0 kWh")
    return problems


async def add_version(
    session: AsyncSession, data: TariffVersionIn, *, created_by: uuid.UUID | None
) -> TariffVersionOut:
    """Add a version of a tariff code. It must not overlap another version, except that the
    open-ended version in force before its start is closed the day before (it is superseded)."""
    grid = grid_from_input(data)
    problems = engine.validate_grid(grid)
    bands = [(b.kwh_min, b.kwh_max, b.color_hex, b.label_fr, b.label_en) for b in data.bands or []]
    problems += _band_problems(bands)
    if problems:
        raise _invalid_grid(problems)
    await repo.lock_code(session, data.code)
    closing: TariffVersion | None = None
    for existing in await repo.versions_of(session, data.code):
        ends = existing.effective_to or date.max
        new_ends = grid.effective_to or date.max
        overlaps = existing.effective_from <= new_ends and grid.effective_from <= ends
        if not overlaps:
            continue
        if (
            existing.effective_to is None
            and existing.effective_from < grid.effective_from
            and closing is None
        ):
            closing = existing
            continue
        raise _overlap(existing)
    if closing is not None:
        closing.effective_to = grid.effective_from - timedelta(days=1)
    version = repo.add_version(session, grid, data.label, created_by)
    if bands:
        await repo.replace_bands(session, data.code, bands)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise AppError(
            409, "tariff_version_overlap", "Cette version existe déjà.", "This version already exists."
        ) from exc
    await session.flush()
    await session.refresh(version, ["tranches", "created_at"])
    log.info("tariff_version_added", code=version.code, effective_from=version.effective_from.isoformat())
    return version_out(version)


# ================================================================================ month to date
@dataclass(frozen=True)
class MonthToDate:
    kwh: Decimal
    fee_paid: bool
    known: bool


async def month_to_date(gateway: LegacyGateway | None, meter: Meter, on: date) -> MonthToDate:
    """kWh bought this calendar month on a prepaid meter and whether the monthly fee is paid (it is
    taken at the first purchase of the month), from the legacy vending records. Unknown (0,
    ``known`` False) when the legacy source cannot answer: the simulator still answers and says so."""
    if gateway is None:
        return MonthToDate(Decimal(0), False, False)
    try:
        bought = await gateway.purchases(meter.number, meter.poc or "", on.replace(day=1), on)
    except Exception as exc:  # legacy down or slow (AppError 503), or bad data: degrade, never fail
        log.warning("month_to_date_unavailable", error=type(exc).__name__)
        return MonthToDate(Decimal(0), False, False)
    kwh = round(sum(p.kwh for p in bought), 2)
    return MonthToDate(Decimal(str(kwh)), bool(bought), True)


# ==================================================================================== simulator
class VendingGateway:
    """The process's XMLVend client, rebuilt when the XMLVend settings change."""

    def __init__(self) -> None:
        self._client: XmlVendClient | None = None
        self._key: tuple[Any, ...] | None = None
        self._lock = asyncio.Lock()

    async def client(self, settings: Settings) -> XmlVendClient:
        key = await asyncio.to_thread(settings_key, settings)
        async with self._lock:
            if self._client is None or self._key != key:
                old, self._client = self._client, None
                if old is not None:
                    await old.aclose()
                if settings.xmlvend_client_p12 is None:
                    raise VendingError("certificate_unavailable", "no client certificate configured")
                try:
                    identity = await asyncio.to_thread(
                        load_client_identity,
                        settings.xmlvend_client_p12,
                        settings.xmlvend_client_p12_password.get_secret_value()
                        if settings.xmlvend_client_p12_password
                        else None,
                    )
                    self._client = await asyncio.to_thread(XmlVendClient, settings, identity)
                except VendingError:
                    raise
                except Exception as exc:
                    log.warning("xmlvend_client_unavailable", error=type(exc).__name__)
                    raise VendingError("certificate_unavailable", type(exc).__name__) from exc
                self._key = key
            return self._client

    async def trial(self, settings: Settings, meter_no: str, amount: Decimal) -> TrialVendResult:
        client = await self.client(settings)
        return await client.trial_credit_vend(meter_no, amount, budget_s=settings.xmlvend_simulator_budget_s)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
            self._key = None


GATEWAY = VendingGateway()


def _lines(purchase: Purchase) -> list[LineOut]:
    return [
        LineOut(
            tranche=ln.tranche,
            kwh=ln.kwh,
            unit_price=ln.unit_price,
            energy_amount=ln.energy_amount,
            municipal_tax=ln.municipal_tax,
            vat=ln.vat,
            amount=ln.amount,
        )
        for ln in purchase.lines
    ]


def human(value: Decimal, lang: Lang) -> str:
    """13036.5 → "13 036,5" (fr) / "13,036.5" (en); no trailing zeros."""
    text = f"{value.normalize():,f}" if value == value.to_integral_value() else f"{value:,f}".rstrip("0")
    if "." in text and text.endswith("."):
        text = text[:-1]
    if lang == "fr":
        text = text.replace(",", "\u202f").replace(".", ",")
    return text


def _advice(grid: TariffGrid, amount: Decimal, mtd: MonthToDate, lang: Lang) -> AdviceOut:
    advice = engine.advise(grid, amount, month_to_date_kwh=mtd.kwh, fee_paid=mtd.fee_paid)
    message: str | None = None
    left = advice.kwh_left_in_current_tranche
    if advice.crosses_tranche and left is not None and advice.cost_to_finish_tranche is not None:
        kwh_left, cost = human(left, lang), human(advice.cost_to_finish_tranche, lang)
        if lang == "fr":
            message = (
                f"Il vous reste {kwh_left} kWh en tranche {advice.current_tranche} ce mois-ci "
                f"({cost} FCFA). Au-delà, le kWh coûte plus cher."
            )
        else:
            message = (
                f"{kwh_left} kWh remain in tranche {advice.current_tranche} this month "
                f"({cost} FCFA). Beyond that, each kWh costs more."
            )
        if advice.split is not None and advice.split.extra_kwh > 0:
            s = advice.split
            now, later = human(s.now_amount, lang), human(s.next_month_amount, lang)
            total, alone = human(s.total_kwh, lang), human(s.total_kwh - s.extra_kwh, lang)
            message += (
                f" En achetant {now} FCFA maintenant et {later} FCFA le mois prochain, "
                f"vous obtiendriez {total} kWh au lieu de {alone} kWh."
                if lang == "fr"
                else f" Buying {now} FCFA now and {later} FCFA next month would give {total} kWh instead of {alone} kWh."
            )
    split = advice.split
    return AdviceOut(
        crosses_tranche=advice.crosses_tranche,
        current_tranche=advice.current_tranche,
        kwh_left_in_current_tranche=left,
        cost_to_finish_tranche=advice.cost_to_finish_tranche,
        split=SplitOut(
            now_amount=split.now_amount,
            now_kwh=split.now_kwh,
            next_month_amount=split.next_month_amount,
            next_month_kwh=split.next_month_kwh,
            total_kwh=split.total_kwh,
            extra_kwh=split.extra_kwh,
        )
        if split
        else None,
        message=message,
    )


def _engine_error(exc: TariffError, grid: TariffGrid) -> AppError:
    if exc.code == "below_minimum_purchase":
        return AppError(
            422,
            "below_minimum_purchase",
            f"L'achat minimum est de {grid.minimum_purchase:.0f} FCFA.",
            f"The minimum purchase is {grid.minimum_purchase:.0f} FCFA.",
        )
    return AppError(422, exc.code, "Simulation impossible avec ces valeurs.", "Cannot simulate these values.")


def _from_vending(grid: TariffGrid, result: TrialVendResult) -> tuple[list[LineOut], dict[str, Decimal]]:
    """Tranche lines and totals from a vending answer (taxes recomputed: XMLVend does not itemise them)."""
    by_start = {t.kwh_from: t for t in grid.tranches}
    lines: list[LineOut] = []
    for index, step in enumerate(result.credit_steps):
        tranche = (
            by_start.get(step.step_begin)
            or sorted(grid.tranches, key=lambda t: t.position)[min(index, len(grid.tranches) - 1)]
        )
        energy = step.units.value * step.price_per_unit
        vat_applies = grid.vat_from_kwh is not None and tranche.kwh_from >= grid.vat_from_kwh
        lines.append(
            LineOut(
                tranche=tranche.position,
                kwh=step.units.value,
                unit_price=step.price_per_unit,
                energy_amount=engine.cents(energy),
                municipal_tax=engine.cents(energy * grid.municipal_tax_rate),
                vat=engine.cents(energy * grid.vat_rate) if vat_applies else Decimal(0),
                amount=step.amount.value,
            )
        )
    fee = sum((c.amount.value for c in result.service_charges), Decimal(0))
    totals = result.transaction_totals
    tender = totals.tender_amount.value if totals and totals.tender_amount else None
    rounding = totals.less_round.value if totals and totals.less_round else Decimal(0)
    if result.purchase is None:
        raise VendingError("vending_error", "no CreditVendTx in the answer")
    charged = result.purchase.amount.value + fee
    return lines, {
        "fee": fee,
        "kwh": result.purchase.units.value,
        "charged": charged,
        "rounding": rounding,
        "tender": tender if tender is not None else charged + rounding,
    }


async def resolve_grid(session: AsyncSession, code: str, on: date) -> TariffVersion:
    version = await repo.version_in_force(session, code, on)
    if version is None:
        raise AppError(
            404,
            "tariff_not_found",
            f"Aucun tarif {code} en vigueur à cette date.",
            f"No {code} tariff in force on that date.",
        )
    return version


async def simulate_prepaid(
    session: AsyncSession,
    settings: Settings,
    *,
    principal: Principal,
    data: SimulationIn,
    lang: Lang,
    legacy: LegacyGateway | None,
    vending: VendingGateway = GATEWAY,
) -> SimulationOut:
    on = data.on or today_utc()
    meter: Meter | None = None
    if data.meter_id is not None:
        meter = await meters.active_meter(session, principal, data.meter_id)  # 404 unless mine, active
        if meter.kind != MeterKind.prepaid:
            raise AppError(
                422,
                "meter_not_prepaid",
                "Le simulateur Woyofal concerne les compteurs prépayés.",
                "The Woyofal simulator is for prepaid meters.",
            )
        mtd = await month_to_date(legacy, meter, on)
        code = tariff_code_of(meter.tariff_code)
    else:
        mtd = MonthToDate(data.month_to_date_kwh or Decimal(0), bool(data.fee_paid), True)
        code = data.tariff_code or DEFAULT_TARIFF
    version = await resolve_grid(session, code, on)
    grid = repo.to_grid(version)

    try:
        if data.amount is not None:
            question = "amount"
            purchase = engine.prepaid_purchase(
                grid, data.amount, month_to_date_kwh=mtd.kwh, fee_paid=mtd.fee_paid
            )
            to_pay = data.amount
        else:
            question = "kwh"  # the schema guarantees kwh is set when amount is not
            wanted = data.kwh or Decimal(0)
            purchase = engine.prepaid_cost(grid, wanted, month_to_date_kwh=mtd.kwh, fee_paid=mtd.fee_paid)
            to_pay = engine.payable(grid, purchase.charged)
        advice = _advice(grid, to_pay, mtd, lang)
    except TariffError as exc:
        raise _engine_error(exc, grid) from exc

    answer = SimulationOut(
        source="engine",
        fallback_reason=None,
        question=question,
        tariff=TariffRef(
            code=grid.code, version_id=version.id, label=version.label, effective_from=version.effective_from
        ),
        meter=MeterRef(id=meter.id, number=meter.number) if meter else None,
        month_to_date_kwh=mtd.kwh,
        month_to_date_known=mtd.known,
        fee_already_paid=mtd.fee_paid,
        amount=purchase.amount,
        amount_to_pay=to_pay,
        kwh=purchase.kwh,
        tranches=_lines(purchase),
        monthly_fee=purchase.fee,
        energy_amount=purchase.energy_amount,
        municipal_tax=purchase.municipal_tax,
        vat=purchase.vat,
        total=purchase.charged,
        rounding=purchase.rounding,
        advice=advice,
    )

    # The vending system can answer only for a real meter, when enabled and reachable.
    if meter is None:
        answer.fallback_reason = "no_meter"
        return answer
    if not settings.xmlvend_enabled:
        answer.fallback_reason = "xmlvend_disabled"
        return answer
    if on != today_utc():
        answer.fallback_reason = "not_today"
        return answer
    try:
        result = await vending.trial(settings, meter.number, to_pay)
    except VendingError as exc:
        log.warning("xmlvend_fallback", reason=exc.reason)
        answer.fallback_reason = exc.reason
        return answer
    if not result.success or result.purchase is None:
        log.warning("xmlvend_fallback", reason="vending_error", error=(result.error or "")[:200])
        answer.fallback_reason = "vending_error"
        return answer
    lines, totals = _from_vending(grid, result)
    answer.source = "vending"
    answer.tranches = lines
    answer.kwh = totals["kwh"]
    answer.monthly_fee = totals["fee"]
    answer.total = totals["charged"]
    answer.rounding = totals["rounding"]
    answer.amount = totals["tender"]
    answer.energy_amount = sum((ln.energy_amount for ln in lines), Decimal(0))
    answer.municipal_tax = sum((ln.municipal_tax for ln in lines), Decimal(0))
    answer.vat = sum((ln.vat for ln in lines), Decimal(0))
    answer.vending = VendingInfo(
        receipt_no=result.transaction_info.receipt_no if result.transaction_info else None,
        units=result.purchase.units.value,
        tariff_name=result.purchase.tariff.name,
    )
    return answer


async def estimate_postpaid(session: AsyncSession, data: PostpaidIn) -> PostpaidOut:
    """A postpaid bill estimate for ``kwh`` over ``days`` billed days (tranche widths × days/30)."""
    on = data.on or today_utc()
    version = await resolve_grid(session, data.tariff_code or DEFAULT_TARIFF, on)
    grid = repo.to_grid(version)
    try:
        est = engine.postpaid_estimate(grid, data.kwh, data.days)
    except TariffError as exc:
        raise _engine_error(exc, grid) from exc
    return PostpaidOut(
        tariff=TariffRef(
            code=grid.code, version_id=version.id, label=version.label, effective_from=version.effective_from
        ),
        kwh=est.kwh,
        days=est.days,
        tranche_bounds=list(est.tranche_bounds),
        tranches=[
            PostpaidLineOut(tranche=ln.tranche, kwh=ln.kwh, unit_price=ln.unit_price, amount=ln.amount)
            for ln in est.lines
        ],
        energy_amount=est.energy_amount,
        monthly_fee=est.monthly_fee,
        municipal_tax=est.municipal_tax,
        vat=est.vat,
        total=est.total,
    )


# ================================================================================ tranche alert
def _alert_text(kwh_left: Decimal, meter_number: str) -> tuple[str, str, str, str]:
    left = f"{kwh_left.normalize():f}"
    return (
        "Bientôt la fin de la tranche sociale",
        f"Compteur {meter_number} : il vous reste {left} kWh au prix social ce mois-ci. "
        "Au-delà, le kWh coûte plus cher.",
        "Social tranche almost used",
        f"Meter {meter_number}: {left} kWh left at the social price this month. Beyond that, each kWh costs more.",
    )


async def scan_tranche_alerts(db: Database, legacy: LegacyGateway, on: date | None = None) -> int:
    """Send the monthly tranche alert to every user of a prepaid meter whose month reached 80 % of
    tranche 1 (and has not left it). One alert per (meter, user, month), guaranteed by a unique row
    written in the same transaction as the notification. Returns how many were sent."""
    day = on or today_utc()
    month = day.replace(day=1)
    sent = 0
    after: tuple[uuid.UUID, uuid.UUID] | None = None
    grids: dict[str, TariffGrid | None] = {}
    while True:
        async with unit_of_work(db.sessionmaker) as session:  # one transaction per page
            page = await repo.prepaid_links_page(session, after=after, limit=SCAN_BATCH)
            if not page:
                break
            after = (page[-1][0].id, page[-1][1])
            done = await repo.alerted_pairs(session, month, [(m.id, u) for m, u in page])
            todo: dict[uuid.UUID, tuple[Meter, list[uuid.UUID]]] = {}
            for meter, user_id in page:
                if (meter.id, user_id) not in done:
                    todo.setdefault(meter.id, (meter, []))[1].append(user_id)
            for meter, users in todo.values():
                code = tariff_code_of(meter.tariff_code)
                if code not in grids:
                    version = await repo.version_in_force(session, code, day)
                    grids[code] = repo.to_grid(version) if version else None
                grid = grids[code]
                if grid is None:
                    continue
                first = min(grid.tranches, key=lambda t: t.position)
                if first.kwh_to is None:
                    continue
                mtd = await month_to_date(legacy, meter, day)
                threshold = first.kwh_to * ALERT_SHARE_OF_TRANCHE_1
                if not mtd.known or not threshold <= mtd.kwh < first.kwh_to:
                    continue
                left = first.kwh_to - mtd.kwh
                for user_id in users:
                    alert_id = await repo.record_alert(
                        session,
                        meter_id=meter.id,
                        user_id=user_id,
                        month=month,
                        kwh_month=mtd.kwh,
                        kwh_left=left,
                    )
                    if alert_id is None:
                        continue
                    title_fr, body_fr, title_en, body_en = _alert_text(left, meter.number)
                    notification_id = await notify_user(
                        session,
                        user_id=user_id,
                        type="tranche_alert",
                        title_fr=title_fr,
                        body_fr=body_fr,
                        title_en=title_en,
                        body_en=body_en,
                        data={
                            "meter_id": str(meter.id),
                            "kwh_left": f"{left.normalize():f}",
                            "month": month.isoformat(),
                            "link": f"samaconso://meters/{meter.id}",
                        },
                    )
                    await repo.set_alert_notification(session, alert_id, notification_id)
                    sent += 1
        if len(page) < SCAN_BATCH:
            break
    if sent:
        log.info("tranche_alerts_sent", count=sent, month=month.isoformat())
    return sent
