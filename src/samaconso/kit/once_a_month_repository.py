"""The one query shape of the "once per (meter, user, month)" guarantee, shared by the tariffs'
tranche alerts (``tranche_alerts``) and the customers' consumption alerts
(``consumption_alerts_sent``): a unique row per (meter, user, month) is the proof the alert went out.

Both tables have ``id``, ``meter_id``, ``user_id`` and ``month`` columns and a unique index on the
last three; the domains' repositories pass their model and their own columns.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.kit.db import Base

Pair = tuple[uuid.UUID, uuid.UUID]  # (meter id, user id)


async def done_pairs(
    session: AsyncSession, model: type[Base], month: date, pairs: Sequence[Pair]
) -> set[Pair]:
    """Which of these (meter, user) pairs have their row for ``month`` already."""
    if not pairs:
        return set()
    c = model.__table__.c
    rows = await session.execute(
        select(c.meter_id, c.user_id).where(c.month == month, tuple_(c.meter_id, c.user_id).in_(list(pairs)))
    )
    return {(m, u) for m, u in rows}


async def record_once(
    session: AsyncSession,
    model: type[Base],
    *,
    meter_id: uuid.UUID,
    user_id: uuid.UUID,
    month: date,
    **values: Any,
) -> uuid.UUID | None:
    """Insert the (meter, user, month) row; None when it exists already (another worker sent it)."""
    stmt = (
        insert(model)
        .values(id=uuid.uuid4(), meter_id=meter_id, user_id=user_id, month=month, **values)
        .on_conflict_do_nothing(index_elements=["meter_id", "user_id", "month"])
        .returning(model.__table__.c.id)
    )
    found: uuid.UUID | None = await session.scalar(stmt)
    return found
