"""The versioned tariff grid: versions in force, bands, the tranche a consumption reached, new
versions added by administrators.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.kit.errors import AppError, not_found
from samaconso.kit.i18n import Lang
from samaconso.kit.pagination import Page, encode_cursor, parse_cursor
from samaconso.tariffs import engine
from samaconso.tariffs import repository as repo
from samaconso.tariffs.engine import TariffGrid, Tranche
from samaconso.tariffs.grid_problems import in_french
from samaconso.tariffs.models import TariffVersion
from samaconso.tariffs.schemas import (
    BandOut,
    TariffVersionIn,
    TariffVersionOut,
    Threshold,
    TrancheOut,
)

log = structlog.get_logger(__name__)


DEFAULT_TARIFF = "DPP"


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
    grid = await repo.grid_in_force(session, tariff_code_of(tariff_code), on)
    if grid is None:
        return None
    tranche, left = engine.tranche_reached(grid, kwh, days=days)
    return TrancheStatus(tranche, left)


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
        localized_extra={
            "fr": {"problems": [in_french(p) for p in problems]},
            "en": {"problems": problems},
        },
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
