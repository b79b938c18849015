"""After the answer: the customer reopens a resolved (or rejected) request within 14 days, or rates
the resolution (1–5 and a comment), once per resolution. Ratings feed the dashboard."""

from __future__ import annotations

import uuid
from datetime import timedelta

import structlog
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.identity.principal import Principal
from samaconso.kit.errors import AppError
from samaconso.requests import repository as repo
from samaconso.requests import service
from samaconso.requests.models import EventKind, RequestStatus

log = structlog.get_logger(__name__)

REOPEN_WITHIN = timedelta(days=14)
REOPENABLE = frozenset({RequestStatus.resolved, RequestStatus.rejected})


async def reopen_mine(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, reason: str
) -> service.RequestView:
    """Back to ``in_progress`` with the same agent, a fresh deadline (the type's SLA from now)."""
    req = await service._mine(session, principal, request_id, for_update=True)
    if req.status not in REOPENABLE:
        raise service.invalid_transition(req.status, RequestStatus.in_progress)
    now = await repo.db_now(session)
    if req.closed_at is None or now - req.closed_at > REOPEN_WITHIN:
        raise AppError(
            409,
            "reopen_window_passed",
            "Une demande se rouvre dans les 14 jours suivant sa clôture : déposez une nouvelle demande.",
            "A request can be reopened within 14 days of its closing: submit a new request.",
            extra={"current_status": req.status.value},
        )
    rtype = await repo.type_by_id(session, req.type_id)
    assert rtype is not None  # FK
    previous = req.status
    req.status = RequestStatus.in_progress
    req.closed_at = None
    req.reopen_count += 1
    req.due_at = func.now() + timedelta(hours=rtype.sla_hours)
    service.record_event(
        session,
        req,
        principal,
        EventKind.status,
        from_status=previous,
        to_status=RequestStatus.in_progress,
        body=reason.strip(),
    )
    await service._save_and_touch(session, req)
    log.info("request_reopened", request_id=str(req.id), reference=req.reference)
    return await service._view(session, req)


async def rate_mine(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, score: int, comment: str | None
) -> service.RequestView:
    req = await service._mine(session, principal, request_id, for_update=True)
    if req.status != RequestStatus.resolved:
        raise AppError(
            409,
            "not_resolved",
            "Vous pourrez noter la demande une fois résolue.",
            "You can rate the request once it is resolved.",
            extra={"current_status": req.status.value},
        )
    if req.rated_at is not None and req.closed_at is not None and req.rated_at >= req.closed_at:
        raise AppError(
            409,
            "already_rated",
            "Vous avez déjà noté cette résolution.",
            "You have already rated this resolution.",
        )
    req.rating_score = score
    req.rating_comment = comment.strip() if comment and comment.strip() else None
    req.rated_at = func.now()
    await session.flush()
    log.info("request_rated", request_id=str(req.id), score=score)
    return await service._view(session, req)
