"""Meters and links for the tariffs tests (written directly, like the meters domain stores them)."""

from __future__ import annotations

import uuid

from samaconso.kit.db import Database
from samaconso.meters.models import LinkStatus, Meter, MeterKind, MeterLink

_numbers = iter(range(10_000_000))


async def make_meter(
    db: Database,
    *,
    users: dict[uuid.UUID, LinkStatus],
    kind: MeterKind = MeterKind.prepaid,
    tariff_code: str | None = "DPP",
    number: str | None = None,
) -> Meter:
    async with db.sessionmaker() as session:
        meter = Meter(
            kind=kind,
            number=number or f"1422{next(_numbers):07d}",
            poc=f"POC{next(_numbers):06d}",
            tariff_code=tariff_code,
            customer_name="AWA NDIAYE",
        )
        session.add(meter)
        await session.flush()
        for i, (user_id, status) in enumerate(users.items()):
            session.add(MeterLink(meter_id=meter.id, user_id=user_id, status=status, is_owner=i == 0))
        await session.commit()
        return meter
