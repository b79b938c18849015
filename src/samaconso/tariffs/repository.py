"""All SQL of the tariffs domain."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import delete, func, or_, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.kit import once_a_month_repository as once_a_month
from samaconso.meters.models import LinkStatus, Meter, MeterKind, MeterLink
from samaconso.tariffs.engine import TariffGrid, Tranche
from samaconso.tariffs.models import TariffBand, TariffTranche, TariffVersion, TrancheAlert


def to_grid(version: TariffVersion) -> TariffGrid:
    return TariffGrid(
        code=version.code,
        effective_from=version.effective_from,
        effective_to=version.effective_to,
        tranches=tuple(
            Tranche(t.position, t.kwh_from, t.kwh_to, t.price_postpaid, t.price_prepaid)
            for t in version.tranches
        ),
        monthly_fee=version.monthly_fee,
        municipal_tax_rate=version.municipal_tax_rate,
        vat_rate=version.vat_rate,
        vat_from_kwh=version.vat_from_kwh,
        minimum_purchase=version.minimum_purchase,
    )


async def lock_code(session: AsyncSession, code: str) -> None:
    """Serialise writers of one tariff code (transaction-scoped: safe behind PgBouncer)."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"tariff:{code}"})


async def versions_of(session: AsyncSession, code: str) -> list[TariffVersion]:
    rows = await session.scalars(
        select(TariffVersion).where(TariffVersion.code == code).order_by(TariffVersion.effective_from)
    )
    return list(rows)


async def version_in_force(session: AsyncSession, code: str, on: date) -> TariffVersion | None:
    return await session.scalar(
        select(TariffVersion)
        .where(
            TariffVersion.code == code,
            TariffVersion.effective_from <= on,
            or_(TariffVersion.effective_to.is_(None), TariffVersion.effective_to >= on),
        )
        .order_by(TariffVersion.effective_from.desc())
        .limit(1)
    )


async def grid_in_force(session: AsyncSession, code: str, on: date) -> TariffGrid | None:
    """The grid of the version of ``code`` in force on ``on``, read in one statement (Core columns:
    the version joined with its tranches, no ORM load and no second ``selectin`` query)."""
    in_force = (
        select(TariffVersion.id)
        .where(
            TariffVersion.code == code,
            TariffVersion.effective_from <= on,
            or_(TariffVersion.effective_to.is_(None), TariffVersion.effective_to >= on),
        )
        .order_by(TariffVersion.effective_from.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = (
        await session.execute(
            select(
                TariffVersion.code,
                TariffVersion.effective_from,
                TariffVersion.effective_to,
                TariffVersion.monthly_fee,
                TariffVersion.municipal_tax_rate,
                TariffVersion.vat_rate,
                TariffVersion.vat_from_kwh,
                TariffVersion.minimum_purchase,
                TariffTranche.position,
                TariffTranche.kwh_from,
                TariffTranche.kwh_to,
                TariffTranche.price_postpaid,
                TariffTranche.price_prepaid,
            )
            .outerjoin(TariffTranche, TariffTranche.version_id == TariffVersion.id)
            .where(TariffVersion.id == in_force)
            .order_by(TariffTranche.position)
        )
    ).all()
    if not rows:
        return None
    first = rows[0]
    return TariffGrid(
        code=first.code,
        effective_from=first.effective_from,
        effective_to=first.effective_to,
        tranches=tuple(
            Tranche(r.position, r.kwh_from, r.kwh_to, r.price_postpaid, r.price_prepaid)
            for r in rows
            if r.position is not None
        ),
        monthly_fee=first.monthly_fee,
        municipal_tax_rate=first.municipal_tax_rate,
        vat_rate=first.vat_rate,
        vat_from_kwh=first.vat_from_kwh,
        minimum_purchase=first.minimum_purchase,
    )


async def list_versions(
    session: AsyncSession,
    *,
    on: date | None,
    code: str | None,
    after: tuple[str, date] | None,
    limit: int,
) -> list[TariffVersion]:
    query = select(TariffVersion)
    if on is not None:
        query = query.where(
            TariffVersion.effective_from <= on,
            or_(TariffVersion.effective_to.is_(None), TariffVersion.effective_to >= on),
        )
    if code is not None:
        query = query.where(TariffVersion.code == code)
    if after is not None:
        query = query.where(tuple_(TariffVersion.code, TariffVersion.effective_from) > tuple_(*after))
    query = query.order_by(TariffVersion.code, TariffVersion.effective_from).limit(limit)
    return list(await session.scalars(query))


def add_version(
    session: AsyncSession, grid: TariffGrid, label: str, created_by: uuid.UUID | None
) -> TariffVersion:
    version = TariffVersion(
        code=grid.code,
        label=label,
        effective_from=grid.effective_from,
        effective_to=grid.effective_to,
        monthly_fee=grid.monthly_fee,
        municipal_tax_rate=grid.municipal_tax_rate,
        vat_rate=grid.vat_rate,
        vat_from_kwh=grid.vat_from_kwh,
        minimum_purchase=grid.minimum_purchase,
        created_by=created_by,
        tranches=[
            TariffTranche(
                position=t.position,
                kwh_from=t.kwh_from,
                kwh_to=t.kwh_to,
                price_postpaid=t.price_postpaid,
                price_prepaid=t.price_prepaid,
            )
            for t in grid.tranches
        ],
    )
    session.add(version)
    return version


async def bands_of(session: AsyncSession, code: str, *, after: int | None, limit: int) -> list[TariffBand]:
    query = select(TariffBand).where(TariffBand.tariff_code == code)
    if after is not None:
        query = query.where(TariffBand.position > after)
    return list(await session.scalars(query.order_by(TariffBand.position).limit(limit)))


async def code_exists(session: AsyncSession, code: str) -> bool:
    found = await session.scalar(
        select(func.count()).select_from(TariffVersion).where(TariffVersion.code == code)
    )
    bands = await session.scalar(
        select(func.count()).select_from(TariffBand).where(TariffBand.tariff_code == code)
    )
    return bool(found or bands)


async def replace_bands(
    session: AsyncSession, code: str, bands: list[tuple[Decimal, Decimal | None, str, str, str]]
) -> None:
    await session.execute(delete(TariffBand).where(TariffBand.tariff_code == code))
    session.add_all(
        TariffBand(
            tariff_code=code, position=i, kwh_min=lo, kwh_max=hi, color_hex=color, label_fr=fr, label_en=en
        )
        for i, (lo, hi, color, fr, en) in enumerate(bands, start=1)
    )


async def known_codes(session: AsyncSession) -> list[str]:
    return list(await session.scalars(select(TariffVersion.code).distinct().order_by(TariffVersion.code)))


async def prepaid_links_page(
    session: AsyncSession, *, after: tuple[uuid.UUID, uuid.UUID] | None, limit: int
) -> list[tuple[Meter, uuid.UUID]]:
    """Active links to prepaid meters, (meter, user id), in a stable order for batch scans."""
    query = (
        select(Meter, MeterLink.user_id)
        .join(MeterLink, MeterLink.meter_id == Meter.id)
        .where(Meter.kind == MeterKind.prepaid, MeterLink.status == LinkStatus.active)
    )
    if after is not None:
        query = query.where(tuple_(Meter.id, MeterLink.user_id) > tuple_(*after))
    rows = await session.execute(query.order_by(Meter.id, MeterLink.user_id).limit(limit))
    return [(meter, user_id) for meter, user_id in rows]


async def alerted_pairs(
    session: AsyncSession, month: date, pairs: list[tuple[uuid.UUID, uuid.UUID]]
) -> set[tuple[uuid.UUID, uuid.UUID]]:
    return await once_a_month.done_pairs(session, TrancheAlert, month, pairs)


async def record_alert(
    session: AsyncSession,
    *,
    meter_id: uuid.UUID,
    user_id: uuid.UUID,
    month: date,
    kwh_month: Decimal,
    kwh_left: Decimal,
) -> uuid.UUID | None:
    """Insert the (meter, user, month) row; None when another worker already did (once a month)."""
    return await once_a_month.record_once(
        session,
        TrancheAlert,
        meter_id=meter_id,
        user_id=user_id,
        month=month,
        kwh_month=kwh_month,
        kwh_left=kwh_left,
    )


async def set_alert_notification(
    session: AsyncSession, alert_id: uuid.UUID, notification_id: uuid.UUID
) -> None:
    alert = await session.get(TrancheAlert, alert_id)
    if alert is not None:
        alert.notification_id = notification_id


async def version_exists(session: AsyncSession, code: str, effective_from: date) -> bool:
    found = await session.scalar(
        select(TariffVersion.id).where(
            TariffVersion.code == code, TariffVersion.effective_from == effective_from
        )
    )
    return found is not None


async def codes_with_bands(session: AsyncSession) -> set[str]:
    """Tariff codes that have threshold bands already (the seed adds the reference bands to the others)."""
    return set(await session.scalars(select(TariffBand.tariff_code).distinct()))
