"""Customer requests: types and SLA, submission, the workflow, history and notifications.

Workflow: ``submitted`` → ``in_progress`` → ``resolved`` | ``rejected``; the customer may cancel while
``submitted``. Any other move is a 409. Routing: the meter's agency; without a meter, the agency of the
customer's default meter (else their oldest active one); without any, or when the meter has no agency,
the national queue (``agency_id`` NULL) that only administrators see.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.files import service as files
from samaconso.files.models import StoredFile
from samaconso.identity.models import User
from samaconso.identity.principal import Principal
from samaconso.kit.errors import AppError
from samaconso.kit.pagination import decode_cursor, decode_time_cursor, encode_cursor, encode_time_cursor
from samaconso.notifications.service import notify_user
from samaconso.requests import repository as repo
from samaconso.requests.models import (
    OPEN_STATUSES,
    CustomerRequest,
    EventKind,
    RequestEvent,
    RequestStatus,
    RequestType,
)

log = structlog.get_logger(__name__)

# Staff moves (the customer's only move is submitted -> cancelled).
STAFF_TRANSITIONS: dict[RequestStatus, frozenset[RequestStatus]] = {
    RequestStatus.submitted: frozenset({RequestStatus.in_progress}),
    RequestStatus.in_progress: frozenset({RequestStatus.resolved, RequestStatus.rejected}),
}
CLOSING = frozenset({RequestStatus.resolved, RequestStatus.rejected, RequestStatus.cancelled})

# Bounds of a request's conversation (issue 12: a request is no free storage nor a paging bomb).
COMMENTS_PER_HOUR = 10  # per author and request (router, Redis)
COMMENTS_PER_AUTHOR = 100  # per author and request, in all
DETAIL_EVENTS = 20  # the newest timeline events a detail carries; older ones: the timeline route

STATUS_LABELS: dict[RequestStatus, tuple[str, str]] = {
    RequestStatus.submitted: ("soumise", "submitted"),
    RequestStatus.in_progress: ("en cours de traitement", "in progress"),
    RequestStatus.resolved: ("résolue", "resolved"),
    RequestStatus.rejected: ("rejetée", "rejected"),
    RequestStatus.cancelled: ("annulée", "cancelled"),
}


def request_not_found() -> AppError:
    return AppError(404, "request_not_found", "Demande introuvable.", "Request not found.")


def invalid_transition(current: RequestStatus, target: RequestStatus) -> AppError:
    return AppError(
        409,
        "invalid_transition",
        f"Impossible de passer une demande {STATUS_LABELS[current][0]} à l'état {STATUS_LABELS[target][0]}.",
        f"A {STATUS_LABELS[current][1]} request cannot become {STATUS_LABELS[target][1]}.",
        extra={"current_status": current.value},
    )


def request_closed(current: RequestStatus) -> AppError:
    return AppError(
        409,
        "request_closed",
        f"Cette demande est {STATUS_LABELS[current][0]} : elle ne peut plus être modifiée.",
        f"This request is {STATUS_LABELS[current][1]}: it can no longer be changed.",
        extra={"current_status": current.value},
    )


# ---- request types (admin) ------------------------------------------------------------------------


async def list_types(
    session: AsyncSession, *, active_only: bool, cursor: str | None, limit: int
) -> tuple[list[RequestType], str | None]:
    after = decode_cursor(cursor, 1)
    rows = list(
        await repo.list_types(
            session, active_only=active_only, after_code=after[0] if after else None, limit=limit + 1
        )
    )
    next_cursor = encode_cursor(rows[limit - 1].code) if len(rows) > limit else None
    return rows[:limit], next_cursor


async def create_type(
    session: AsyncSession, *, code: str, label_fr: str, label_en: str, sla_hours: int, is_active: bool
) -> RequestType:
    row = RequestType(
        code=code, label_fr=label_fr, label_en=label_en, sla_hours=sla_hours, is_active=is_active
    )
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise AppError(
            409,
            "request_type_exists",
            "Ce code de type de demande existe déjà.",
            "This request type code already exists.",
        ) from exc
    return row


async def update_type(
    session: AsyncSession,
    type_id: uuid.UUID,
    *,
    label_fr: str | None,
    label_en: str | None,
    sla_hours: int | None,
    is_active: bool | None,
) -> RequestType:
    row = await repo.type_by_id(session, type_id)
    if row is None:
        raise AppError(
            404, "request_type_not_found", "Type de demande introuvable.", "Request type not found."
        )
    if label_fr is not None:
        row.label_fr = label_fr
    if label_en is not None:
        row.label_en = label_en
    if sla_hours is not None:
        row.sla_hours = sla_hours
    if is_active is not None:
        row.is_active = is_active
    await session.flush()
    await session.refresh(row)
    return row


# ---- views ------------------------------------------------------------------------------------------


@dataclass
class RequestView:
    request: CustomerRequest
    type: RequestType
    now: datetime
    events: list[RequestEvent] | None = None
    attachments: list[StoredFile] | None = None
    requester: User | None = None
    older_events: str | None = None  # cursor of the timeline page before ``events``

    @property
    def age_hours(self) -> float:
        end = self.request.closed_at or self.now
        return round(max(0.0, (end - self.request.created_at).total_seconds() / 3600), 2)

    @property
    def overdue(self) -> bool:
        return self.request.status in OPEN_STATUSES and self.now > self.request.due_at


async def _view(session: AsyncSession, req: CustomerRequest, *, with_requester: bool = False) -> RequestView:
    """The request with its newest :data:`DETAIL_EVENTS` timeline events, oldest first, and the
    cursor of the older ones."""
    await session.refresh(req)
    rtype = await repo.type_by_id(session, req.type_id)
    assert rtype is not None  # FK
    events, older = await _events(session, req, None, DETAIL_EVENTS)
    return RequestView(
        request=req,
        type=rtype,
        now=await repo.db_now(session),
        events=events[::-1],
        attachments=list(await files.attachments_of(session, req.id)),
        requester=await repo.requester(session, req.requester_id) if with_requester else None,
        older_events=older,
    )


async def _events(
    session: AsyncSession, req: CustomerRequest, cursor: str | None, limit: int
) -> tuple[list[RequestEvent], str | None]:
    """One page of the timeline, newest first, and the cursor of the next (older) page."""
    rows = list(await repo.events_page(session, req.id, before=decode_time_cursor(cursor), limit=limit + 1))
    older = encode_time_cursor(rows[limit - 1].at, rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], older


def record_event(
    session: AsyncSession,
    req: CustomerRequest,
    by: Principal,
    kind: EventKind,
    *,
    from_status: RequestStatus | None = None,
    to_status: RequestStatus | None = None,
    body: str | None = None,
) -> None:
    """One timeline event written by ``by`` (the actor and their role come from the principal)."""
    repo.add_event(
        session,
        req,
        kind=kind,
        actor_id=by.user_id,
        actor_role=by.role.value,
        from_status=from_status,
        to_status=to_status,
        body=body,
    )


def _assignment_event(
    session: AsyncSession, req: CustomerRequest, principal: Principal, body: str | None = None
) -> None:
    record_event(session, req, principal, EventKind.assignment, body=body)


async def _comment_event(
    session: AsyncSession, req: CustomerRequest, principal: Principal, body: str
) -> None:
    """A comment on the request, within :data:`COMMENTS_PER_AUTHOR` per author (409 beyond)."""
    if await repo.comment_count(session, req.id, principal.user_id) >= COMMENTS_PER_AUTHOR:
        raise AppError(
            409,
            "request_comments_full",
            f"Vous avez écrit {COMMENTS_PER_AUTHOR} messages sur cette demande : "
            "déposez une nouvelle demande ou passez en agence.",
            f"You wrote {COMMENTS_PER_AUTHOR} messages on this request: "
            "file a new request or visit your agency.",
        )
    record_event(session, req, principal, EventKind.comment, body=body)


async def _save_and_touch(session: AsyncSession, req: CustomerRequest) -> None:
    """Write the changes and events, and mark the request updated (database clock)."""
    await session.flush()
    await repo.touch(session, req.id)
    await session.flush()


def _page_cursor(rows: Sequence[tuple[CustomerRequest, RequestType]], limit: int) -> str | None:
    if len(rows) <= limit:
        return None
    last = rows[limit - 1][0]
    return encode_cursor(last.created_at.isoformat(), last.id)


def _after(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    values = decode_cursor(cursor, 2)
    if values is None:
        return None
    try:
        return datetime.fromisoformat(values[0]), uuid.UUID(values[1])
    except (TypeError, ValueError) as exc:
        raise AppError(
            400, "invalid_cursor", "Curseur de pagination invalide.", "Invalid pagination cursor."
        ) from exc


# ---- customer side ---------------------------------------------------------------------------------


async def submit(
    session: AsyncSession,
    principal: Principal,
    *,
    type_code: str,
    meter_id: uuid.UUID | None,
    comment: str,
    attachments: list[uuid.UUID],
    filed_by: Principal | None = None,
) -> RequestView:
    """``principal`` is the customer; ``filed_by`` the agent filing it for them at the counter
    (their uploads are the attachments, they appear in the timeline)."""
    actor = filed_by or principal
    rtype = await repo.type_by_code(session, type_code)
    if rtype is None or not rtype.is_active:
        raise AppError(
            422,
            "unknown_request_type",
            "Type de demande inconnu.",
            "Unknown request type.",
            extra={"field": "type"},
        )
    if meter_id is not None:
        linked, agency_id = await repo.active_link_agency(session, principal.user_id, meter_id)
        if not linked:
            raise AppError(
                404,
                "meter_not_found",
                "Compteur introuvable parmi vos compteurs.",
                "Meter not found among your meters.",
            )
    else:
        default = await repo.default_meter(session, principal.user_id)
        agency_id = default[1] if default else None
    reference = await repo.new_reference(session, agency_id)
    req = CustomerRequest(
        id=uuid.uuid4(),
        reference=reference,
        type_id=rtype.id,
        requester_id=principal.user_id,
        meter_id=meter_id,
        agency_id=agency_id,
        status=RequestStatus.submitted,
        comment=comment.strip(),
        due_at=func.now() + timedelta(hours=rtype.sla_hours),
    )
    session.add(req)
    await session.flush()
    await files.attach(session, owner_id=actor.user_id, file_ids=attachments, request_id=req.id)
    record_event(session, req, actor, EventKind.status, to_status=RequestStatus.submitted)
    await session.flush()
    log.info(
        "request_submitted",
        request_id=str(req.id),
        reference=reference,
        type=rtype.code,
        agency_id=str(agency_id),
    )
    return await _view(session, req)


async def _page_of_views(
    session: AsyncSession, rows: Sequence[tuple[CustomerRequest, RequestType]], limit: int
) -> tuple[list[RequestView], str | None]:
    """One page of requests as views (ages computed against the database clock) and its next cursor."""
    now = await repo.db_now(session)
    return [RequestView(r, t, now) for r, t in rows[:limit]], _page_cursor(rows, limit)


async def list_mine(
    session: AsyncSession,
    principal: Principal,
    *,
    status: RequestStatus | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[RequestView], str | None]:
    rows = await repo.list_requests(
        session, requester_id=principal.user_id, status=status, after=_after(cursor), limit=limit + 1
    )
    return await _page_of_views(session, rows, limit)


async def _mine(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, *, for_update: bool = False
) -> CustomerRequest:
    req = await repo.get_request(session, request_id, for_update=for_update)
    if req is None or req.requester_id != principal.user_id:
        raise request_not_found()
    return req


async def get_mine(session: AsyncSession, principal: Principal, request_id: uuid.UUID) -> RequestView:
    return await _view(session, await _mine(session, principal, request_id))


async def comment_mine(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, body: str
) -> RequestView:
    req = await _mine(session, principal, request_id, for_update=True)
    if req.status not in OPEN_STATUSES:
        raise request_closed(req.status)
    await _comment_event(session, req, principal, body.strip())
    await _save_and_touch(session, req)
    return await _view(session, req)


async def timeline_mine(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, cursor: str | None, limit: int
) -> tuple[list[RequestEvent], str | None]:
    """My request's timeline, newest first (the detail's ``older_events_cursor`` continues it)."""
    return await _events(session, await _mine(session, principal, request_id), cursor, limit)


async def cancel_mine(session: AsyncSession, principal: Principal, request_id: uuid.UUID) -> RequestView:
    req = await _mine(session, principal, request_id, for_update=True)
    if req.status != RequestStatus.submitted:
        raise invalid_transition(req.status, RequestStatus.cancelled)
    _set_status(session, req, RequestStatus.cancelled, principal, comment=None)
    # The customer made this change: no notification to themselves.
    await session.flush()
    return await _view(session, req)


# ---- staff side ---------------------------------------------------------------------------------


def staff_can_see(principal: Principal, agency_id: uuid.UUID | None) -> bool:
    if principal.is_admin:
        return True
    return principal.is_staff and principal.agency_id is not None and agency_id == principal.agency_id


async def request_agency(session: AsyncSession, request_id: uuid.UUID) -> uuid.UUID | None:
    """The agency handling a request (None: national queue or unknown request)."""
    req = await repo.get_request(session, request_id)
    return req.agency_id if req else None


async def list_for_staff(
    session: AsyncSession,
    principal: Principal,
    *,
    status: RequestStatus | None,
    agency: str | None,
    overdue: bool | None,
    cursor: str | None,
    limit: int,
    reference: str | None = None,
    type_code: str | None = None,
    assignee: str | None = None,
) -> tuple[list[RequestView], str | None]:
    assigned_to: uuid.UUID | None = None
    if assignee == "me":
        assigned_to = principal.user_id
    elif assignee and assignee != "none":
        try:
            assigned_to = uuid.UUID(assignee)
        except ValueError as exc:
            raise AppError(
                422,
                "invalid_assignee",
                "Assigné invalide (me, none ou un id).",
                "Invalid assignee (me, none or an id).",
            ) from exc
    agency_id: uuid.UUID | None = None
    national_only = False
    if principal.is_admin:
        if agency == "national":
            national_only = True
        elif agency:
            try:
                agency_id = uuid.UUID(agency)
            except ValueError as exc:
                raise AppError(422, "invalid_agency", "Agence invalide.", "Invalid agency.") from exc
    else:
        # An agent sees their agency's queue only, whatever ?agency= says.
        if principal.agency_id is None:
            return [], None
        agency_id = principal.agency_id
    rows = await repo.list_requests(
        session,
        agency=agency_id,
        national_only=national_only,
        status=status,
        overdue=overdue,
        reference=reference,
        after=_after(cursor),
        limit=limit + 1,
        type_code=type_code,
        assignee=assigned_to,
        unassigned=assignee == "none",
    )
    return await _page_of_views(session, rows, limit)


async def _for_staff(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, *, for_update: bool = False
) -> CustomerRequest:
    req = await repo.get_request(session, request_id, for_update=for_update)
    if req is None or not staff_can_see(principal, req.agency_id):
        raise request_not_found()
    return req


async def get_for_staff(session: AsyncSession, principal: Principal, request_id: uuid.UUID) -> RequestView:
    return await _view(session, await _for_staff(session, principal, request_id), with_requester=True)


async def timeline_for_staff(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, cursor: str | None, limit: int
) -> tuple[list[RequestEvent], str | None]:
    return await _events(session, await _for_staff(session, principal, request_id), cursor, limit)


def _set_status(
    session: AsyncSession,
    req: CustomerRequest,
    target: RequestStatus,
    principal: Principal,
    *,
    comment: str | None,
) -> None:
    previous = req.status
    req.status = target
    if target in CLOSING:
        req.closed_at = func.now()  # evaluated by the database at flush
    record_event(
        session, req, principal, EventKind.status, from_status=previous, to_status=target, body=comment
    )


async def _notify(
    session: AsyncSession,
    req: CustomerRequest,
    rtype: RequestType,
    *,
    status: RequestStatus | None,
    comment: str | None,
) -> None:
    """Tell the customer (notification stored in the same transaction as the change)."""
    if status is not None:
        fr, en = STATUS_LABELS[status]
        title_fr, title_en = "Votre demande a évolué", "Your request was updated"
        body_fr = f"Votre demande {req.reference} « {rtype.label_fr} » est {fr}."
        body_en = f"Your request {req.reference} '{rtype.label_en}' is {en}."
    else:
        title_fr, title_en = "Nouveau message sur votre demande", "New message on your request"
        body_fr = f"Un agent Senelec a répondu à votre demande {req.reference} « {rtype.label_fr} »."
        body_en = f"A Senelec agent replied to your request {req.reference} '{rtype.label_en}'."
    if comment:
        body_fr += f" {comment}"[:400]
        body_en += f" {comment}"[:400]
    await notify_user(
        session,
        user_id=req.requester_id,
        type="request_updated",
        title_fr=title_fr,
        body_fr=body_fr,
        title_en=title_en,
        body_en=body_en,
        data={
            "request_id": str(req.id),
            "reference": req.reference,
            "status": req.status.value,
            "link": f"samaconso://requests/{req.id}",
        },
    )


async def staff_update(
    session: AsyncSession,
    principal: Principal,
    request_id: uuid.UUID,
    *,
    assign_to_me: bool,
    status: RequestStatus | None,
    comment: str | None,
) -> RequestView:
    if not assign_to_me and status is None and comment is None:
        raise AppError(
            422,
            "empty_update",
            "Indiquez une prise en charge, un statut ou un commentaire.",
            "Give an assignment, a status or a comment.",
        )
    req = await _for_staff(session, principal, request_id, for_update=True)
    rtype = await repo.type_by_id(session, req.type_id)
    assert rtype is not None
    if req.status not in OPEN_STATUSES:
        raise request_closed(req.status) if status is None else invalid_transition(req.status, status)
    comment = comment.strip() if comment else None
    if status is not None:
        if status not in STAFF_TRANSITIONS.get(req.status, frozenset()):
            raise invalid_transition(req.status, status)
        if status in CLOSING and not comment:
            raise AppError(
                422,
                "comment_required",
                "Expliquez au client la résolution ou le rejet dans un commentaire.",
                "Explain the resolution or rejection to the customer in a comment.",
                extra={"field": "comment"},
            )
    if (
        assign_to_me or (status == RequestStatus.in_progress and req.assigned_to is None)
    ) and req.assigned_to != principal.user_id:
        req.assigned_to = principal.user_id
        _assignment_event(session, req, principal)
    if status is not None:
        _set_status(session, req, status, principal, comment=comment)
        await _notify(session, req, rtype, status=status, comment=comment)
    elif comment is not None:
        await _comment_event(session, req, principal, comment)
        await _notify(session, req, rtype, status=None, comment=comment)
    await _save_and_touch(session, req)
    log.info("request_updated", request_id=str(req.id), status=req.status.value, by=str(principal.user_id))
    return await _view(session, req, with_requester=True)


async def assign(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, assignee_id: uuid.UUID
) -> RequestView:
    """Give an open request to a colleague of the request's agency (or an administrator)."""
    req = await _for_staff(session, principal, request_id, for_update=True)
    if req.status not in OPEN_STATUSES:
        raise request_closed(req.status)
    colleague = await repo.staff_member(session, assignee_id)
    if colleague is None or (colleague.role.value == "agent" and colleague.agency_id != req.agency_id):
        raise AppError(
            400,
            "assignee_not_in_agency",
            "Ce collègue n'est pas un agent actif de l'agence de la demande.",
            "This colleague is not an active agent of the request's agency.",
        )
    if req.assigned_to != colleague.id:
        req.assigned_to = colleague.id
        _assignment_event(session, req, principal, f"assigned:{colleague.id}")
        await _save_and_touch(session, req)
    log.info("request_assigned", request_id=str(req.id), to=str(colleague.id), by=str(principal.user_id))
    return await _view(session, req, with_requester=True)


async def transfer(
    session: AsyncSession,
    principal: Principal,
    request_id: uuid.UUID,
    agency_id: uuid.UUID,
    comment: str | None,
) -> RequestView:
    """Hand an open request over to another agency's queue (unassigned there)."""
    req = await _for_staff(session, principal, request_id, for_update=True)
    if req.status not in OPEN_STATUSES:
        raise request_closed(req.status)
    if agency_id == req.agency_id:
        raise AppError(
            409, "same_agency", "La demande est déjà dans cette agence.", "The request is already there."
        )
    if not await repo.agency_is_active(session, agency_id):
        raise AppError(400, "agency_unknown", "Agence inconnue.", "Unknown agency.")
    previous = req.agency_id
    req.agency_id = agency_id
    req.assigned_to = None
    note = f" {comment.strip()}" if comment else ""
    _assignment_event(session, req, principal, f"transfer:{previous or 'national'}->{agency_id}{note}")
    await _save_and_touch(session, req)
    log.info("request_transferred", request_id=str(req.id), to=str(agency_id), by=str(principal.user_id))
    return await _view(session, req, with_requester=True)
