"""HTTP routes of the requests domain (mounted under /api/v1)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query, Request
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.console import request_routing
from samaconso.identity.context import Ctx
from samaconso.identity.deps import AdminUser, CurrentUser, CustomerUser, StaffUser
from samaconso.identity.principal import Principal
from samaconso.identity.repository import add_audit
from samaconso.kit.deps import CursorQuery, LimitQuery, RateLimiterDep, SessionDep, settings_of
from samaconso.kit.i18n import Lang
from samaconso.kit.language import request_language
from samaconso.kit.pagination import Page
from samaconso.kit.ratelimit import RateLimiter
from samaconso.kit.request_body import RequestBody
from samaconso.requests import follow_up, service
from samaconso.requests.models import EventKind, RequestEvent, RequestStatus, RequestType
from samaconso.requests.schemas import (
    AttachmentOut,
    CommentIn,
    CommentOut,
    HistoryEntry,
    RatingIn,
    RatingOut,
    ReopenIn,
    RequestCreate,
    RequestDetail,
    Requester,
    RequestPatch,
    RequestSummary,
    RequestTypeBrief,
    RequestTypeIn,
    RequestTypeOut,
    RequestTypePatch,
    StaffRequestDetail,
    StaffRequestSummary,
    TimelineEntry,
)

router = APIRouter(tags=["requests"])

SUBMISSIONS_PER_DAY = 20


def _lang(request: Request) -> Lang:
    return request_language(request)


def _type_out(t: RequestType) -> RequestTypeOut:
    return RequestTypeOut(
        id=t.id,
        code=t.code,
        label_fr=t.label_fr,
        label_en=t.label_en,
        sla_hours=t.sla_hours,
        is_active=t.is_active,
    )


def _brief(t: RequestType, lang: Lang) -> RequestTypeBrief:
    return RequestTypeBrief(code=t.code, label=t.label_fr if lang == "fr" else t.label_en)


def _by(role: str) -> str:
    return role if role in ("customer", "agent", "admin") else "system"


def _summary(v: service.RequestView, lang: Lang) -> RequestSummary:
    r = v.request
    return RequestSummary(
        id=r.id,
        reference=r.reference,
        type=_brief(v.type, lang),
        status=r.status,
        meter_id=r.meter_id,
        created_at=r.created_at,
        updated_at=r.updated_at,
        due_at=r.due_at,
    )


def _rating(v: service.RequestView) -> RatingOut | None:
    r = v.request
    if r.rating_score is None or r.rated_at is None:
        return None
    return RatingOut(score=r.rating_score, comment=r.rating_comment, at=r.rated_at)


def _timeline(v: service.RequestView) -> tuple[list[HistoryEntry], list[CommentOut]]:
    history: list[HistoryEntry] = []
    comments: list[CommentOut] = []
    for e in v.events or []:
        if e.kind == EventKind.status and e.to_status:
            history.append(
                HistoryEntry(
                    at=e.at,
                    from_status=RequestStatus(e.from_status) if e.from_status else None,
                    to_status=RequestStatus(e.to_status),
                    by=_by(e.actor_role),
                    comment=e.body,
                )
            )
        elif e.kind == EventKind.comment and e.body:
            comments.append(CommentOut(at=e.at, by=_by(e.actor_role), body=e.body))
    return history, comments


def _entry(e: RequestEvent) -> TimelineEntry:
    return TimelineEntry(
        at=e.at,
        kind="comment" if e.kind == EventKind.comment else "status",
        by=_by(e.actor_role),
        from_status=RequestStatus(e.from_status) if e.from_status else None,
        to_status=RequestStatus(e.to_status) if e.to_status else None,
        body=e.body,
    )


async def _limit_comments(limiter: RateLimiter, principal: Principal, request_id: uuid.UUID) -> None:
    """At most :data:`service.COMMENTS_PER_HOUR` messages per author and request an hour."""
    await limiter.check(
        f"req-comment:{request_id}:{principal.user_id}",
        service.COMMENTS_PER_HOUR,
        3600,
        "too_many_comments",
    )


def _attachments(v: service.RequestView) -> list[AttachmentOut]:
    return [
        AttachmentOut(
            id=f.id, original_name=f.original_name, content_type=f.content_type, size_bytes=f.size_bytes
        )
        for f in v.attachments or []
    ]


def _detail(v: service.RequestView, lang: Lang) -> RequestDetail:
    history, comments = _timeline(v)
    r = v.request
    reopenable = r.status in follow_up.REOPENABLE and r.closed_at is not None
    return RequestDetail(
        **_summary(v, lang).model_dump(),
        comment=r.comment,
        closed_at=r.closed_at,
        reopen_until=r.closed_at + follow_up.REOPEN_WITHIN if reopenable and r.closed_at else None,
        reopen_count=r.reopen_count,
        rating=_rating(v),
        attachments=_attachments(v),
        history=history,
        comments=comments,
        older_events_cursor=v.older_events,
    )


def _staff_summary(v: service.RequestView, lang: Lang) -> StaffRequestSummary:
    r = v.request
    return StaffRequestSummary(
        **_summary(v, lang).model_dump(),
        agency_id=r.agency_id,
        requester_id=r.requester_id,
        assigned_to=r.assigned_to,
        age_hours=v.age_hours,
        overdue=v.overdue,
    )


def _staff_detail(v: service.RequestView, lang: Lang) -> StaffRequestDetail:
    history, comments = _timeline(v)
    u = v.requester
    assert u is not None
    return StaffRequestDetail(
        **_staff_summary(v, lang).model_dump(),
        comment=v.request.comment,
        closed_at=v.request.closed_at,
        reopen_count=v.request.reopen_count,
        rating=_rating(v),
        requester=Requester(id=u.id, phone=u.phone, first_name=u.first_name, last_name=u.last_name),
        attachments=_attachments(v),
        history=history,
        comments=comments,
        older_events_cursor=v.older_events,
    )


# ---- request types ----------------------------------------------------------------------------


@router.get("/request-types", response_model=Page[RequestTypeBrief])
async def list_active_types(
    request: Request, _: CurrentUser, session: SessionDep, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> Page[RequestTypeBrief]:
    """The request types a customer can choose from."""
    rows, next_cursor = await service.list_types(session, active_only=True, cursor=cursor, limit=limit)
    lang = _lang(request)
    return Page(items=[_brief(t, lang) for t in rows], next_cursor=next_cursor)


@router.get("/admin/request-types", response_model=Page[RequestTypeOut])
async def admin_list_types(
    _: AdminUser, session: SessionDep, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> Page[RequestTypeOut]:
    rows, next_cursor = await service.list_types(session, active_only=False, cursor=cursor, limit=limit)
    return Page(items=[_type_out(t) for t in rows], next_cursor=next_cursor)


@router.post("/admin/request-types", status_code=201, response_model=RequestTypeOut)
async def admin_create_type(body: RequestTypeIn, admin: AdminUser, session: SessionDep) -> RequestTypeOut:
    row = await service.create_type(session, **body.model_dump())
    add_audit(session, "request_type_created", actor_id=admin.user_id, details={"code": row.code})
    return _type_out(row)


@router.patch("/admin/request-types/{type_id}", response_model=RequestTypeOut)
async def admin_update_type(
    type_id: uuid.UUID, body: RequestTypePatch, admin: AdminUser, session: SessionDep
) -> RequestTypeOut:
    row = await service.update_type(session, type_id, **body.model_dump())
    changes = sorted(body.model_dump(exclude_none=True))
    add_audit(
        session,
        "request_type_updated",
        actor_id=admin.user_id,
        details={"code": row.code, "changes": changes},
    )
    return _type_out(row)


# ---- customer ----------------------------------------------------------------------------------


@router.post("/me/requests", status_code=201, response_model=RequestDetail)
async def submit_request(
    body: RequestCreate,
    request: Request,
    principal: CustomerUser,
    session: SessionDep,
    limiter: RateLimiterDep,
) -> RequestDetail:
    await limiter.check(f"req-submit:{principal.user_id}", SUBMISSIONS_PER_DAY, 86400)
    view = await service.submit(
        session,
        principal,
        type_code=body.type,
        meter_id=body.meter_id,
        comment=body.comment,
        attachments=body.attachments,
    )
    return _detail(view, _lang(request))


@router.get("/me/requests", response_model=Page[RequestSummary])
async def my_requests(
    request: Request,
    principal: CustomerUser,
    session: SessionDep,
    status: RequestStatus | None = None,
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
) -> Page[RequestSummary]:
    views, next_cursor = await service.list_mine(
        session, principal, status=status, cursor=cursor, limit=limit
    )
    lang = _lang(request)
    return Page(items=[_summary(v, lang) for v in views], next_cursor=next_cursor)


@router.get("/me/requests/{request_id}", response_model=RequestDetail)
async def my_request(
    request_id: uuid.UUID, request: Request, principal: CustomerUser, session: SessionDep
) -> RequestDetail:
    return _detail(await service.get_mine(session, principal, request_id), _lang(request))


@router.get("/me/requests/{request_id}/timeline", response_model=Page[TimelineEntry])
async def my_request_timeline(
    request_id: uuid.UUID,
    principal: CustomerUser,
    session: SessionDep,
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
) -> Page[TimelineEntry]:
    """Status changes and messages of my request, newest first."""
    events, next_cursor = await service.timeline_mine(session, principal, request_id, cursor, limit)
    return Page(items=[_entry(e) for e in events], next_cursor=next_cursor)


@router.post("/me/requests/{request_id}/comments", status_code=201, response_model=RequestDetail)
async def comment_my_request(
    request_id: uuid.UUID,
    body: CommentIn,
    request: Request,
    principal: CustomerUser,
    session: SessionDep,
    limiter: RateLimiterDep,
) -> RequestDetail:
    await _limit_comments(limiter, principal, request_id)
    return _detail(await service.comment_mine(session, principal, request_id, body.body), _lang(request))


@router.post("/me/requests/{request_id}/cancel", response_model=RequestDetail)
async def cancel_my_request(
    request_id: uuid.UUID, request: Request, principal: CustomerUser, session: SessionDep
) -> RequestDetail:
    return _detail(await service.cancel_mine(session, principal, request_id), _lang(request))


@router.post("/me/requests/{request_id}/reopen", response_model=RequestDetail)
async def reopen_my_request(
    request_id: uuid.UUID, body: ReopenIn, request: Request, principal: CustomerUser, session: SessionDep
) -> RequestDetail:
    """Reopen a resolved or rejected request within 14 days of its closing (back to in progress)."""
    view = await follow_up.reopen_mine(session, principal, request_id, body.reason)
    return _detail(view, _lang(request))


@router.post("/me/requests/{request_id}/rating", response_model=RequestDetail)
async def rate_my_request(
    request_id: uuid.UUID, body: RatingIn, request: Request, principal: CustomerUser, session: SessionDep
) -> RequestDetail:
    """Rate a resolved request (1–5 and a comment), once per resolution."""
    view = await follow_up.rate_mine(session, principal, request_id, body.score, body.comment)
    return _detail(view, _lang(request))


# ---- staff -------------------------------------------------------------------------------------


@router.get("/requests", response_model=Page[StaffRequestSummary])
async def staff_requests(
    request: Request,
    principal: StaffUser,
    session: SessionDep,
    status: RequestStatus | None = None,
    overdue: bool | None = None,
    agency: str | None = Query(default=None, description="Admins only: an agency id, or `national`."),
    reference: str | None = Query(
        default=None, max_length=48, description="The customer's reference, e.g. `DKC-2026-004512`."
    ),
    type: str | None = Query(default=None, pattern=r"^[a-z0-9_]{2,40}$", description="A request type code."),
    assignee: str | None = Query(default=None, max_length=40, description="`me`, `none` or a staff id."),
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
) -> Page[StaffRequestSummary]:
    """Agents: their agency's requests. Administrators: all, or one agency, or the national queue."""
    views, next_cursor = await service.list_for_staff(
        session,
        principal,
        status=status,
        agency=agency,
        overdue=overdue,
        cursor=cursor,
        limit=limit,
        reference=reference,
        type_code=type,
        assignee=assignee,
    )
    lang = _lang(request)
    return Page(items=[_staff_summary(v, lang) for v in views], next_cursor=next_cursor)


@router.get("/requests/{request_id}", response_model=StaffRequestDetail)
async def staff_request(
    request_id: uuid.UUID, request: Request, principal: StaffUser, session: SessionDep
) -> StaffRequestDetail:
    return _staff_detail(await service.get_for_staff(session, principal, request_id), _lang(request))


@router.get("/requests/{request_id}/timeline", response_model=Page[TimelineEntry])
async def staff_request_timeline(
    request_id: uuid.UUID,
    principal: StaffUser,
    session: SessionDep,
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
) -> Page[TimelineEntry]:
    """Status changes and messages of a request, newest first."""
    events, next_cursor = await service.timeline_for_staff(session, principal, request_id, cursor, limit)
    return Page(items=[_entry(e) for e in events], next_cursor=next_cursor)


@router.patch("/requests/{request_id}", response_model=StaffRequestDetail)
async def staff_update_request(
    request_id: uuid.UUID,
    body: RequestPatch,
    request: Request,
    principal: StaffUser,
    session: SessionDep,
    limiter: RateLimiterDep,
) -> StaffRequestDetail:
    """Take the request (``assign_to_me``), move it (``status``) and/or write to the customer (``comment``)."""
    if body.comment is not None and body.status is None:
        await _limit_comments(limiter, principal, request_id)
    view = await request_routing.update(
        _audit_ctx(request, session),
        principal,
        request_id,
        assign_to_me=body.assign_to_me,
        status=RequestStatus(body.status) if body.status else None,
        comment=body.comment,
    )
    return _staff_detail(view, _lang(request))


def _audit_ctx(request: Request, session: AsyncSession) -> Ctx:
    """What the audit trail needs of this call: the transaction, the settings, the caller's IP."""
    return Ctx(
        session=session,
        settings=settings_of(request),
        ip=request.client.host if request.client else None,
    )


class AssignBody(RequestBody):
    assignee_id: uuid.UUID


class TransferBody(RequestBody):
    agency_id: uuid.UUID
    comment: str | None = Field(default=None, max_length=1000)


@router.post("/requests/{request_id}/assignment", response_model=StaffRequestDetail)
async def staff_assign_request(
    request_id: uuid.UUID, body: AssignBody, request: Request, principal: StaffUser, session: SessionDep
) -> StaffRequestDetail:
    """Give the request to a colleague of its agency (timeline: an assignment event; audited:
    ``request_assigned``)."""
    view = await request_routing.assign(_audit_ctx(request, session), principal, request_id, body.assignee_id)
    return _staff_detail(view, _lang(request))


@router.post("/requests/{request_id}/transfer", response_model=StaffRequestDetail)
async def staff_transfer_request(
    request_id: uuid.UUID, body: TransferBody, request: Request, principal: StaffUser, session: SessionDep
) -> StaffRequestDetail:
    """Hand the request over to another agency (it leaves the caller's queue when they are an agent).
    Audited (``request_transferred``: from and to agency)."""
    ctx = _audit_ctx(request, session)
    view = await request_routing.transfer(ctx, principal, request_id, body.agency_id, body.comment)
    return _staff_detail(view, _lang(request))
