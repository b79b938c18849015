"""Sharing you can manage: the owner's members list, requests that expire when the owner is not on
the app, and the agent who decides at the counter (audited).

* ``GET /me/meters/{id}/members`` (owner only): who shares the meter, since when, and the pending
  requests; revoking uses the member's ``user_id`` from that list.
* A request whose owner has no SamaConso account expires after :data:`EXPIRY_DAYS` days (periodic
  sweep); the requester is told to go to their agency with the owner's consent.
* An agent of the meter's agency (or an administrator) approves or refuses a pending or expired
  request at the counter, after checking the documents; the decision is written to the audit log
  (``meter_access_decided_at_counter``) with the agent, the note and the documents checked.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import structlog
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.identity.phones import mask_phone
from samaconso.identity.principal import Principal
from samaconso.kit.db import Database
from samaconso.kit.errors import AppError
from samaconso.kit.notify import Notify
from samaconso.kit.pagination import Page, decode_time_cursor, encode_time_cursor
from samaconso.kit.transaction import unit_of_work
from samaconso.meters import repository as repo
from samaconso.meters import service
from samaconso.meters import sharing_repository as sharing_repo
from samaconso.meters.models import LinkStatus
from samaconso.meters.schemas import AccessRequestOut
from samaconso.meters.sharing_schemas import MeterMemberOut

log = structlog.get_logger(__name__)

EXPIRY_DAYS = 30
DECIDABLE_AT_COUNTER = frozenset({LinkStatus.pending, LinkStatus.expired})


async def list_members(
    session: AsyncSession, principal: Principal, meter_id: uuid.UUID, cursor: str | None, limit: int
) -> Page[MeterMemberOut]:
    phone = await repo.user_phone(session, principal.user_id)
    meter = await repo.meter(session, meter_id)
    mine = await repo.live_link(session, meter_id, principal.user_id) if meter else None
    if meter is None or phone is None or meter.legacy_phone != phone or mine is None:
        raise service.meter_not_found()
    rows = list(
        await sharing_repo.members(session, meter_id, principal.user_id, decode_time_cursor(cursor), limit)
    )
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        MeterMemberOut(
            user_id=user.id,
            first_name=user.first_name,
            last_name=user.last_name,
            phone=mask_phone(user.phone),
            status=link.status,
            requested_at=link.created_at,
            member_since=link.decided_at if link.status == LinkStatus.active else None,
            access_request_id=link.id if link.status == LinkStatus.pending else None,
        )
        for link, user in rows
    ]
    next_cursor = encode_time_cursor(rows[-1][0].created_at, rows[-1][0].id) if more and rows else None
    return Page[MeterMemberOut](items=items, next_cursor=next_cursor)


async def expire_absent_owner_requests(
    db: Database, *, notify: Notify, older_than_days: int = EXPIRY_DAYS
) -> int:
    """Periodic sweep: requests to an owner who is not on the app expire; the requester is told."""
    async with unit_of_work(db.sessionmaker) as session:
        expired = await sharing_repo.expire_absent_owner_requests(session, timedelta(days=older_than_days))
        for _, user_id, meter_id in expired:
            meter = await repo.meter(session, meter_id)
            assert meter is not None  # FK
            await service._notify(
                notify,
                session,
                user_id,
                "meter_access_expired",
                meter,
                title_fr="Demande d'accès expirée",
                body_fr=(
                    f"Le titulaire du {service._kind_fr(meter.kind)} {meter.number} n'utilise pas SamaConso : "
                    f"votre demande a expiré après {older_than_days} jours. Présentez-vous en agence avec "
                    "votre pièce d'identité et l'accord du titulaire."
                ),
                title_en="Access request expired",
                body_en=(
                    f"The owner of {service._kind_en(meter.kind)} {meter.number} does not use SamaConso: "
                    f"your request expired after {older_than_days} days. Visit your agency with your ID "
                    "and the owner's consent."
                ),
            )
    if expired:
        log.info("meter_access_requests_expired", count=len(expired))
    return len(expired)


async def decide_at_counter(
    session: AsyncSession,
    principal: Principal,
    link_id: uuid.UUID,
    *,
    approve: bool,
    note: str,
    documents_checked: list[str],
    notify: Notify,
) -> AccessRequestOut:
    found = await repo.link_with_meter(session, link_id)
    if found is None:
        raise service.request_not_found()
    link, meter = found
    if not principal.is_admin and (principal.agency_id is None or meter.agency_id != principal.agency_id):
        raise service.request_not_found()
    if link.status not in DECIDABLE_AT_COUNTER:
        raise AppError(
            409,
            "access_request_decided",
            "Cette demande a déjà été traitée.",
            "This request was already decided.",
            extra={"current_status": link.status.value},
        )
    previous = link.status
    link.status = LinkStatus.active if approve else LinkStatus.refused
    link.decided_at = func.now()
    link.decided_by = principal.user_id
    await session.flush()
    sharing_repo.add_audit(
        session,
        "meter_access_decided_at_counter",
        user_id=link.user_id,
        actor_id=principal.user_id,
        details={
            "link_id": str(link.id),
            "meter_id": str(meter.id),
            "meter_number": meter.number,
            "decision": "approved" if approve else "refused",
            "previous_status": previous.value,
            "note": note,
            "documents_checked": documents_checked,
        },
    )
    if approve:
        await repo.promote_some_default(session, link.user_id)
    verb_fr, verb_en = ("accordé", "granted") if approve else ("refusé", "refused")
    await service._notify(
        notify,
        session,
        link.user_id,
        "meter_access_granted" if approve else "meter_access_refused",
        meter,
        title_fr=f"Accès {verb_fr}",
        body_fr=f"Votre agence Senelec a {verb_fr} votre accès au {service._kind_fr(meter.kind)} {meter.number}.",
        title_en=f"Access {verb_en}",
        body_en=f"Your Senelec agency {verb_en} your access to {service._kind_en(meter.kind)} {meter.number}.",
    )
    await session.flush()
    await session.refresh(link)
    user = await repo.user_brief(session, link.user_id)
    log.info(
        "meter_access_decided_at_counter", link_id=str(link.id), approve=approve, by=str(principal.user_id)
    )
    return service._request_out(link, meter, user)
