"""Sessions and tokens: opening a session, refresh-token rotation (reuse kills the session), logout."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy import func

from samaconso.identity import repository as repo
from samaconso.identity.audit import record_event
from samaconso.identity.context import Ctx, limit_per_ip
from samaconso.identity.models import (
    AuthSession,
    Device,
    RefreshToken,
    User,
)
from samaconso.identity.principal import Principal
from samaconso.identity.profile import user_out
from samaconso.identity.schemas import (
    TokenPair,
)
from samaconso.kit.errors import AppError
from samaconso.kit.security import (
    issue_access_token,
    new_opaque_token,
    token_digest,
)
from samaconso.kit.transaction import record_now

log = structlog.get_logger(__name__)


# Token refreshes per IP per minute: one per device every 15 min, generous for carrier-grade NAT.
REFRESH_IP_LIMIT = (120, 60)


def _refresh_invalid() -> AppError:
    return AppError(
        401,
        "invalid_refresh_token",
        "Session expirée : connectez-vous à nouveau.",
        "Session expired: please sign in again.",
        headers={"WWW-Authenticate": "Bearer"},
    )


@dataclass
class Issued:
    pair: TokenPair
    session_id: uuid.UUID


async def open_session(ctx: Ctx, user: User, device: Device | None) -> Issued:
    settings = ctx.settings
    auth = AuthSession(
        user_id=user.id,
        device_id=device.id if device else None,
        expires_at=func.now() + timedelta(seconds=settings.refresh_token_ttl_s),
        ip=ctx.ip,
        user_agent=(ctx.user_agent or "")[:200] or None,
    )
    ctx.session.add(auth)
    await ctx.session.flush()
    refresh = new_opaque_token()
    ctx.session.add(RefreshToken(session_id=auth.id, token_hash=token_digest(refresh)))
    access = issue_access_token(settings, user_id=user.id, session_id=auth.id, role=user.role.value)
    pair = TokenPair(
        access_token=access,
        expires_in=settings.access_token_ttl_s,
        refresh_token=refresh,
        refresh_expires_in=settings.refresh_token_ttl_s,
        user=user_out(user),
    )
    return Issued(pair=pair, session_id=auth.id)


async def refresh(ctx: Ctx, token: str) -> Issued:
    await limit_per_ip(ctx, "refresh-ip", REFRESH_IP_LIMIT, critical=False)
    session = ctx.session
    stored = await repo.refresh_token_by_hash(session, token_digest(token))
    if stored is None:
        raise _refresh_invalid()
    auth = await repo.session_for_update(session, stored.session_id)
    if stored.rotated_at is not None:
        # A rotated token came back: it was stolen (or the app is broken). Kill the whole session.
        revoked = await repo.revoke_sessions(session, "refresh_reuse", session_ids=[auth.id])
        if revoked:
            record_event(ctx, "refresh_token_reuse", user_id=auth.user_id, session=str(auth.id))
        ctx.forget_after_commit([auth.id])
        await record_now(session)  # the revocation stands although the caller is refused
        raise _refresh_invalid()
    now = await repo.db_now(session)
    user = await repo.user_by_id(session, auth.user_id)
    if auth.revoked_at is not None or auth.expires_at <= now or user is None or not user.is_active:
        raise _refresh_invalid()
    stored.rotated_at = now
    auth.last_used_at = now
    if auth.device_id is not None:
        await repo.touch_device(session, auth.device_id, now)
    new_token = new_opaque_token()
    session.add(RefreshToken(session_id=auth.id, token_hash=token_digest(new_token)))
    access = issue_access_token(ctx.settings, user_id=user.id, session_id=auth.id, role=user.role.value)
    pair = TokenPair(
        access_token=access,
        expires_in=ctx.settings.access_token_ttl_s,
        refresh_token=new_token,
        refresh_expires_in=max(0, int((auth.expires_at - now).total_seconds())),
        user=user_out(user),
    )
    return Issued(pair=pair, session_id=auth.id)


async def logout(ctx: Ctx, principal: Principal, everywhere: bool) -> None:
    if everywhere:
        revoked = await repo.revoke_sessions(ctx.session, "logout_all", user_id=principal.user_id)
    else:
        revoked = await repo.revoke_sessions(
            ctx.session, "logout", user_id=principal.user_id, session_ids=[principal.session_id]
        )
    record_event(ctx, "logout", user_id=principal.user_id, all=everywhere, sessions=len(revoked))
    ctx.forget_after_commit([*revoked, principal.session_id])
