"""Embedded demo: the demo customer's prepaid meter and postpaid contract are already linked (owner)."""

from __future__ import annotations

from sqlalchemy import select

from samaconso.identity.models import Role, User
from samaconso.identity.principal import Principal
from samaconso.kit.db import Database
from samaconso.kit.errors import AppError
from samaconso.kit.transaction import unit_of_work
from samaconso.legacy import generator as g
from samaconso.legacy.gateway import LegacyGateway
from samaconso.meters import service
from samaconso.meters.models import MeterKind
from samaconso.notifications.service import notify_user
from samaconso.settings import Settings


async def seed(db: Database, settings: Settings) -> list[str]:
    if settings.profile != "embedded" or settings.legacy_backend != "simulated":
        return []
    gateway = LegacyGateway.from_settings(settings)
    linked = 0
    try:
        async with db.sessionmaker() as session:
            demo = (
                await session.execute(
                    select(User).where(User.phone == g.DEMO_PHONE, User.role == Role.customer)
                )
            ).scalar_one_or_none()
        if demo is None:
            return []
        principal = Principal(
            user_id=demo.id, session_id=demo.id, role=Role.customer, agency_id=None, language="fr"
        )
        for kind, number in (
            (MeterKind.prepaid, g.DEMO_PREPAID_METER),
            (MeterKind.postpaid, g.DEMO_POSTPAID_CONTRACT),
        ):
            try:
                async with unit_of_work(db.sessionmaker) as session:  # one transaction per meter
                    await service.add_meter(session, gateway, principal, kind, number, notify=notify_user)
                linked += 1
            except AppError as exc:
                if exc.status != 409:  # 409: already linked by a previous run
                    raise
    finally:
        await gateway.dispose()
    return (
        [f"meters  compteurs du client démo liés : {g.DEMO_PREPAID_METER}, {g.DEMO_POSTPAID_CONTRACT}"]
        if linked
        else []
    )
