"""Embedded demo: the demo customer's prepaid meter and postpaid contract are already linked (owner)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.identity import repository as identity_repo
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
    limits = service.RequestLimits.from_settings(settings)
    linked = 0
    try:
        async with db.sessionmaker() as session:
            demo = await identity_repo.customer_by_phone(session, g.DEMO_PHONE)
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
                    await service.add_meter(
                        session, gateway, principal, kind, number, notify=notify_user, limits=limits
                    )
                linked += 1
            except AppError as exc:
                if exc.status != 409:  # 409: already linked by a previous run
                    raise
        async with unit_of_work(db.sessionmaker) as session:
            shared = await _seed_sharing(session, gateway, principal, limits)
    finally:
        await gateway.dispose()
    lines = (
        [f"meters  compteurs du client démo liés : {g.DEMO_PREPAID_METER}, {g.DEMO_POSTPAID_CONTRACT}"]
        if linked
        else []
    )
    if shared:
        lines.append(
            f"meters  compteur {g.DEMO_PREPAID_METER} partagé : Modou Fall (accès accordé), Khady Ba (en attente) "
            "— GET /api/v1/me/meters/{id}/members"
        )
    return lines


# Two customers who follow the demo customer's Woyofal meter: one approved, one waiting.
SHARING_DEMO = (
    ("+221781234501", "Modou", "Fall", True),
    ("+221781234502", "Khady", "Ba", False),
)


async def _seed_sharing(
    session: AsyncSession, gateway: LegacyGateway, owner: Principal, limits: service.RequestLimits
) -> bool:
    from samaconso.kit.security import hash_secret

    if await identity_repo.phone_taken(session, SHARING_DEMO[0][0]):
        return False
    for phone, first, last, approved in SHARING_DEMO:
        user = User(
            role=Role.customer, phone=phone, pin_hash=hash_secret("2580"), first_name=first, last_name=last
        )
        session.add(user)
        await session.flush()
        member = Principal(
            user_id=user.id, session_id=user.id, role=Role.customer, agency_id=None, language="fr"
        )
        link = await service.add_meter(
            session,
            gateway,
            member,
            MeterKind.prepaid,
            g.DEMO_PREPAID_METER,
            notify=notify_user,
            limits=limits,
        )
        if approved:
            requests = await service.list_access_requests(session, owner, None, 100)
            for request in requests.items:
                if request.requester.user_id == user.id and request.meter.id == link.id:
                    await service.decide_access_request(
                        session, owner, request.id, approve=True, notify=notify_user
                    )
    return True
