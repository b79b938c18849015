"""Helpers of the dashboard tests: devices, raw SQL, notifications and their push deliveries."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text

from samaconso.identity.models import Device
from samaconso.kit.db import Database


async def devices(db: Database, user_id: uuid.UUID, active: int, inactive: int = 0) -> list[uuid.UUID]:
    async with db.sessionmaker() as session:
        rows = [
            Device(
                user_id=user_id,
                device_id=f"dev-{uuid.uuid4().hex[:8]}",
                fcm_token=f"tok-{uuid.uuid4().hex}",
                is_active=i < active,
            )
            for i in range(active + inactive)
        ]
        session.add_all(rows)
        await session.commit()
        return [r.id for r in rows]


async def sql(db: Database, statement: str, **params: Any) -> None:
    async with db.sessionmaker() as session:
        await session.execute(text(statement), params)
        await session.commit()


async def notification(
    db: Database,
    *,
    kind: str,
    age_days: float,
    user: uuid.UUID | None = None,
    agencies: list[uuid.UUID] | None = None,
) -> uuid.UUID:
    nid = uuid.uuid4()
    await sql(
        db,
        "INSERT INTO notifications (id, created_at, type, priority, title_fr, title_en, body_fr, body_en, "
        "target_kind, target_user_id, target_agency_ids) VALUES (:id, now() - make_interval(secs => :age), "
        "'campaign', 'low', 't', 't', 'b', 'b', :kind, :user, CAST(:agencies AS uuid[]))",
        id=nid,
        age=age_days * 86400,
        kind=kind,
        user=user,
        agencies=[str(a) for a in agencies] if agencies else None,
    )
    return nid


async def delivery(db: Database, notification_id: uuid.UUID, device_id: uuid.UUID, status: str) -> None:
    await sql(
        db,
        "INSERT INTO notification_deliveries (notification_id, device_id, status) VALUES (:n, :d, :s)",
        n=notification_id,
        d=device_id,
        s=status,
    )
