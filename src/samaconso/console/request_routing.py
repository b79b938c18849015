"""Who handles a request, in the audit trail: assignments (to a colleague, or "take it") and
transfers to another agency are recorded with who did it, from whom / which agency, to whom / which
agency. The requests service keeps the rules and the request's own timeline; this room reads the
routing before (under the row lock the service then takes again) and writes the audit event after."""

from __future__ import annotations

import uuid

from samaconso.console import repository as repo
from samaconso.identity.audit import record_event
from samaconso.identity.context import Ctx
from samaconso.identity.principal import Principal
from samaconso.requests import service as requests
from samaconso.requests.models import RequestStatus
from samaconso.requests.service import RequestView


def _text(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


def _record_assignment(
    ctx: Ctx,
    staff: Principal,
    view: RequestView,
    before: tuple[uuid.UUID | None, uuid.UUID | None] | None,
) -> None:
    previous = before[1] if before else None
    now = view.request.assigned_to
    if now is None or now == previous:
        return
    record_event(
        ctx,
        "request_assigned",
        user_id=view.request.requester_id,
        actor_id=staff.user_id,
        request=str(view.request.id),
        reference=view.request.reference,
        agency=_text(view.request.agency_id),
        from_assignee=_text(previous),
        to_assignee=str(now),
    )


async def assign(ctx: Ctx, staff: Principal, request_id: uuid.UUID, assignee_id: uuid.UUID) -> RequestView:
    """Give the request to a colleague (``request_assigned`` when the assignee changes)."""
    before = await repo.lock_request_routing(ctx.session, request_id)
    view = await requests.assign(ctx.session, staff, request_id, assignee_id)
    _record_assignment(ctx, staff, view, before)
    return view


async def update(
    ctx: Ctx,
    staff: Principal,
    request_id: uuid.UUID,
    *,
    assign_to_me: bool,
    status: RequestStatus | None,
    comment: str | None,
) -> RequestView:
    """Take / move / answer a request; taking it (or starting it unassigned) is an assignment."""
    before = await repo.lock_request_routing(ctx.session, request_id)
    view = await requests.staff_update(
        ctx.session, staff, request_id, assign_to_me=assign_to_me, status=status, comment=comment
    )
    _record_assignment(ctx, staff, view, before)
    return view


async def transfer(
    ctx: Ctx, staff: Principal, request_id: uuid.UUID, agency_id: uuid.UUID, comment: str | None
) -> RequestView:
    """Hand the request to another agency (``request_transferred``: from and to agency, and the
    assignee it had, since a transfer leaves it unassigned)."""
    before = await repo.lock_request_routing(ctx.session, request_id)
    view = await requests.transfer(ctx.session, staff, request_id, agency_id, comment)
    record_event(
        ctx,
        "request_transferred",
        user_id=view.request.requester_id,
        actor_id=staff.user_id,
        request=str(view.request.id),
        reference=view.request.reference,
        from_agency=_text(before[0]) if before else None,
        to_agency=str(agency_id),
        from_assignee=_text(before[1]) if before else None,
    )
    return view
