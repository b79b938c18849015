"""Staff accounts (agents, administrators), managed by administrators or the operator's CLI."""

from __future__ import annotations

import uuid
from datetime import datetime

import structlog
from sqlalchemy.exc import IntegrityError

from samaconso.identity import repository as repo
from samaconso.identity.audit import record_event
from samaconso.identity.context import Ctx, hash_new_secret
from samaconso.identity.models import (
    STAFF_ROLES,
    AuthSource,
    Role,
    User,
)
from samaconso.identity.principal import Principal
from samaconso.identity.profile import user_out
from samaconso.identity.schemas import (
    StaffCreate,
    StaffPatch,
    UserOut,
)
from samaconso.kit.errors import AppError, not_found

log = structlog.get_logger(__name__)


async def _agency_must_exist(ctx: Ctx, agency_id: uuid.UUID) -> None:
    agency = await repo.agency_by_id(ctx.session, agency_id)
    if agency is None:
        raise AppError(400, "agency_unknown", "Agence inconnue.", "Unknown agency.")
    if not agency.is_active:
        raise AppError(400, "agency_closed", "Cette agence est fermée.", "This agency is closed.")


def _agent_needs_agency() -> AppError:
    return AppError(
        400, "agency_required", "Un agent doit être rattaché à une agence.", "An agent needs an agency."
    )


async def create_staff(ctx: Ctx, actor: Principal | None, body: StaffCreate) -> UserOut:
    """Create an agent or administrator. ``actor`` is None for the operator's command line
    (``samaconso staff create``), which is how the first administrator of a platform is made."""
    session = ctx.session
    role = Role(body.role)
    if role == Role.agent and body.agency_id is None:
        raise _agent_needs_agency()
    if body.agency_id is not None:
        await _agency_must_exist(ctx, body.agency_id)
    if body.auth_source == AuthSource.local and not body.password:
        raise AppError(
            400,
            "password_required",
            "Un mot de passe est requis pour un compte local.",
            "A password is required for a local account.",
        )
    if await repo.login_taken(session, body.login):
        raise AppError(409, "login_taken", "Cet identifiant existe déjà.", "This login already exists.")
    user = User(
        role=role,
        login=body.login,
        agency_id=body.agency_id,
        first_name=body.first_name,
        last_name=body.last_name,
        email=str(body.email) if body.email else None,
        auth_source=body.auth_source,
        password_hash=await hash_new_secret(body.password)
        if body.auth_source == AuthSource.local and body.password
        else None,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:
        raise AppError(
            409, "login_taken", "Cet identifiant existe déjà.", "This login already exists."
        ) from None
    record_event(
        ctx,
        "staff_created",
        user_id=user.id,
        actor_id=actor.user_id if actor else None,
        source="api" if actor else "cli",
        role=role.value,
        agency=str(body.agency_id) if body.agency_id else None,
    )
    await session.flush()
    await session.refresh(user)
    return user_out(user)


async def get_staff_user(ctx: Ctx, user_id: uuid.UUID) -> UserOut:
    user = await repo.user_by_id(ctx.session, user_id)
    if user is None or user.role not in STAFF_ROLES:
        raise not_found("Compte introuvable.", "Account not found.")
    return user_out(user)


async def list_staff(
    ctx: Ctx,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
    role: Role | None,
    agency_id: uuid.UUID | None,
) -> tuple[list[UserOut], tuple[datetime, uuid.UUID] | None]:
    rows = await repo.list_staff(ctx.session, limit=limit, after=after, role=role, agency_id=agency_id)
    nxt = (rows[limit - 1].created_at, rows[limit - 1].id) if len(rows) > limit else None
    return [user_out(u) for u in rows[:limit]], nxt


async def patch_staff(ctx: Ctx, actor: Principal, user_id: uuid.UUID, body: StaffPatch) -> UserOut:
    session = ctx.session
    user = await repo.user_by_id(session, user_id, lock=True)
    if user is None or user.role not in STAFF_ROLES:
        raise not_found("Compte introuvable.", "Account not found.")
    fields = body.model_fields_set
    if user.id == actor.user_id and (
        ("role" in fields and body.role != user.role.value)
        or ("is_active" in fields and body.is_active is False)
    ):
        raise AppError(
            400,
            "cannot_demote_self",
            "Vous ne pouvez pas retirer vos propres droits.",
            "You cannot remove your own rights.",
        )
    changes: list[str] = []
    if "role" in fields and body.role is not None and body.role != user.role.value:
        user.role = Role(body.role)
        changes.append("role")
    if "agency_id" in fields and body.agency_id != user.agency_id:
        if body.agency_id is not None:
            await _agency_must_exist(ctx, body.agency_id)
        user.agency_id = body.agency_id
        changes.append("agency")
    if user.role == Role.agent and user.agency_id is None:
        raise _agent_needs_agency()
    for name in ("first_name", "last_name"):
        value = getattr(body, name)
        if name in fields and value is not None:
            setattr(user, name, value)
            changes.append(name)
    if "email" in fields:
        user.email = str(body.email) if body.email else None
        changes.append("email")
    if "auth_source" in fields and body.auth_source is not None and body.auth_source != user.auth_source:
        user.auth_source = body.auth_source
        if body.auth_source == AuthSource.ldap:
            user.password_hash = None
        changes.append("auth_source")
    if "password" in fields and body.password:
        user.password_hash = await hash_new_secret(body.password)
        user.failed_attempts = 0
        user.locked_until = None
        changes.append("password")
    if user.auth_source == AuthSource.local and not user.password_hash:
        raise AppError(
            400,
            "password_required",
            "Un mot de passe est requis pour un compte local.",
            "A password is required for a local account.",
        )
    revoked: list[uuid.UUID] = []
    if "is_active" in fields and body.is_active is not None and body.is_active != user.is_active:
        user.is_active = body.is_active
        changes.append("is_active")
        if not body.is_active:
            revoked = await repo.revoke_sessions(session, "deactivated", user_id=user.id)
    if "password" in changes:
        revoked += await repo.revoke_sessions(session, "password_reset", user_id=user.id)
    live = await repo.live_sessions(session, user.id)
    record_event(ctx, "staff_updated", user_id=user.id, actor_id=actor.user_id, changes=changes)
    await session.flush()
    await session.refresh(user)
    # Role and agency are cached with the session state: drop it so they apply at once.
    ctx.forget_after_commit([*revoked, *live])
    return user_out(user)
