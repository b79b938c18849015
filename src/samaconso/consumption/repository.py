"""SQL of the consumption domain (its own tables: the customer's alerts)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.consumption.models import AlertMetric, ConsumptionAlert, ConsumptionAlertSent
from samaconso.kit import once_a_month_repository as once_a_month


async def replace_alerts(
    session: AsyncSession, user_id: uuid.UUID, alerts: list[tuple[uuid.UUID, AlertMetric, Decimal]]
) -> None:
    await session.execute(delete(ConsumptionAlert).where(ConsumptionAlert.user_id == user_id))
    session.add_all(
        [ConsumptionAlert(user_id=user_id, meter_id=m, metric=metric, threshold=t) for m, metric, t in alerts]
    )
    await session.flush()


async def alerts_of(
    session: AsyncSession, user_id: uuid.UUID, after: uuid.UUID | None, limit: int
) -> Sequence[ConsumptionAlert]:
    stmt = select(ConsumptionAlert).where(ConsumptionAlert.user_id == user_id)
    if after is not None:
        stmt = stmt.where(ConsumptionAlert.meter_id > after)
    return (await session.execute(stmt.order_by(ConsumptionAlert.meter_id).limit(limit + 1))).scalars().all()


async def last_sent(
    session: AsyncSession, user_id: uuid.UUID, meter_ids: list[uuid.UUID]
) -> dict[uuid.UUID, date]:
    if not meter_ids:
        return {}
    rows = await session.execute(
        select(ConsumptionAlertSent.meter_id, func.max(ConsumptionAlertSent.month))
        .where(ConsumptionAlertSent.user_id == user_id, ConsumptionAlertSent.meter_id.in_(meter_ids))
        .group_by(ConsumptionAlertSent.meter_id)
    )
    return {m: d for m, d in rows}  # noqa: C416 - a Result is not a mapping source


async def alerts_page(
    session: AsyncSession,
    after: tuple[uuid.UUID, uuid.UUID] | None,
    limit: int,
    user_id: uuid.UUID | None = None,
) -> Sequence[ConsumptionAlert]:
    """Every alert setting (or one user's), in a stable order for batch scans."""
    stmt = select(ConsumptionAlert)
    if user_id is not None:
        stmt = stmt.where(ConsumptionAlert.user_id == user_id)
    if after is not None:
        stmt = stmt.where(tuple_(ConsumptionAlert.meter_id, ConsumptionAlert.user_id) > tuple_(*after))
    stmt = stmt.order_by(ConsumptionAlert.meter_id, ConsumptionAlert.user_id).limit(limit)
    return (await session.execute(stmt)).scalars().all()


async def sent_pairs(
    session: AsyncSession, month: date, pairs: list[tuple[uuid.UUID, uuid.UUID]]
) -> set[tuple[uuid.UUID, uuid.UUID]]:
    return await once_a_month.done_pairs(session, ConsumptionAlertSent, month, pairs)


async def record_sent(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    meter_id: uuid.UUID,
    month: date,
    metric: AlertMetric,
    threshold: Decimal,
    value: Decimal,
) -> uuid.UUID | None:
    """The (user, meter, month) row; None when it exists already (another worker sent it)."""
    return await once_a_month.record_once(
        session,
        ConsumptionAlertSent,
        meter_id=meter_id,
        user_id=user_id,
        month=month,
        metric=metric,
        threshold=threshold,
        value=value,
    )


async def set_notification(session: AsyncSession, sent_id: uuid.UUID, notification_id: uuid.UUID) -> None:
    row = await session.get(ConsumptionAlertSent, sent_id)
    if row is not None:
        row.notification_id = notification_id
