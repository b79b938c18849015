"""Senelec agencies: listing (an agent sees their own), creation and edits by administrators."""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy.exc import IntegrityError

from samaconso.identity import repository as repo
from samaconso.identity.agency_names import legacy_key
from samaconso.identity.audit import record_event
from samaconso.identity.context import Ctx
from samaconso.identity.models import (
    Agency,
)
from samaconso.identity.principal import Principal
from samaconso.identity.schemas import (
    AgencyIn,
    AgencyPatch,
)
from samaconso.kit.errors import AppError, not_found

log = structlog.get_logger(__name__)


async def list_agencies(
    ctx: Ctx, principal: Principal, limit: int, after: str | None
) -> tuple[list[Agency], str | None]:
    only = None if principal.is_admin else principal.agency_id
    if not principal.is_admin and only is None:
        return [], None
    rows = await repo.list_agencies(ctx.session, limit=limit, after=after, only=only)
    nxt = rows[limit - 1].code if len(rows) > limit else None
    return list(rows[:limit]), nxt


async def get_agency(ctx: Ctx, principal: Principal, agency_id: uuid.UUID) -> Agency:
    agency = await repo.agency_by_id(ctx.session, agency_id)
    if agency is None or (not principal.is_admin and principal.agency_id != agency.id):
        raise not_found("Agence introuvable.", "Agency not found.")
    return agency


def _agency_taken() -> AppError:
    return AppError(
        409,
        "agency_exists",
        "Une agence porte déjà ce code ou ce nom.",
        "An agency already has this code or name.",
    )


async def create_agency(ctx: Ctx, actor: Principal, body: AgencyIn) -> Agency:
    agency = Agency(
        code=body.code, name=body.name, region=body.region or None, legacy_name=legacy_key(body.name)
    )
    ctx.session.add(agency)
    try:
        await ctx.session.flush()
    except IntegrityError:
        raise _agency_taken() from None
    record_event(ctx, "agency_created", actor_id=actor.user_id, agency=str(agency.id), code=agency.code)
    await ctx.session.flush()
    await ctx.session.refresh(agency)
    return agency


async def patch_agency(ctx: Ctx, actor: Principal, agency_id: uuid.UUID, body: AgencyPatch) -> Agency:
    agency = await repo.agency_by_id(ctx.session, agency_id)
    if agency is None:
        raise not_found("Agence introuvable.", "Agency not found.")
    fields = body.model_fields_set
    if "name" in fields and body.name:
        agency.name = body.name
        agency.legacy_name = legacy_key(body.name)
    if "region" in fields:
        agency.region = body.region or None
    closing = "is_active" in fields and body.is_active is False and agency.is_active
    if "is_active" in fields and body.is_active is not None:
        agency.is_active = body.is_active
    try:
        await ctx.session.flush()
    except IntegrityError:
        raise _agency_taken() from None
    if closing:
        await _sign_out_agents(ctx, agency.id)
    record_event(ctx, "agency_updated", actor_id=actor.user_id, agency=str(agency.id), changes=sorted(fields))
    await ctx.session.flush()
    await ctx.session.refresh(agency)
    return agency


async def _sign_out_agents(ctx: Ctx, agency_id: uuid.UUID) -> None:
    """A closed agency's agents are signed out at once (their sessions revoked, their cached
    session state dropped once the closing is committed)."""
    revoked: list[uuid.UUID] = []
    for agent_id in await repo.agent_ids_of_agency(ctx.session, agency_id):
        revoked += await repo.revoke_sessions(ctx.session, "agency_closed", user_id=agent_id)
    ctx.forget_after_commit(revoked)
