"""Sessions and tokens: opening a session, refresh-token rotation (reuse kills the session), logout."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import func

from samaconso.identity import refresh_grace, session_errors
from samaconso.identity import repository as repo
from samaconso.identity.audit import record_event
from samaconso.identity.context import Ctx, limit_per_ip
from samaconso.identity.models import (
    AuthSession,
    Device,
    RefreshToken,
    Role,
    User,
)
from samaconso.identity.principal import Principal
from samaconso.identity.profile import user_out
from samaconso.identity.schemas import (
    TokenPair,
)
from samaconso.kit.errors import AppError, unavailable
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
    await session.refresh(stored)  # read again under the lock: a concurrent refresh may have rotated it
    now = await repo.db_now(session)
    if stored.rotated_at is not None:
        return await _refresh_reused(ctx, token, stored, auth, now)
    user = await repo.user_by_id(session, auth.user_id)
    if auth.revoked_at is not None:
        raise session_errors.session_ended(auth.revoked_reason)
    if auth.expires_at <= now:
        raise session_errors.token_expired()
    if user is None or not user.is_active:
        raise session_errors.session_revoked()
    if user.role in (Role.agent, Role.admin) and auth.last_used_at <= now - timedelta(
        seconds=ctx.settings.staff_idle_timeout_s
    ):
        # an idle staff session does not come back through its refresh token
        await repo.revoke_sessions(session, "idle", session_ids=[auth.id])
        ctx.forget_after_commit([auth.id])
        await record_now(session)
        raise session_errors.session_revoked()
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
    if ctx.limiter is not None and ctx.settings.refresh_grace_s > 0:
        # Before the request's commit: a twin request waiting on the session lock finds it then.
        await refresh_grace.remember(ctx.limiter.redis, token, pair, ctx.settings.refresh_grace_s)
    return Issued(pair=pair, session_id=auth.id)


async def _refresh_reused(
    ctx: Ctx, token: str, stored: RefreshToken, auth: AuthSession, now: datetime
) -> Issued:
    """A rotated token came back. Within the grace window it answers the pair it was rotated into
    (nothing is written); later it was stolen (or the app is broken): kill the session."""
    grace = timedelta(seconds=ctx.settings.refresh_grace_s)
    rotated_at = stored.rotated_at
    if rotated_at is not None and rotated_at + grace > now and auth.revoked_at is None:
        pair = await refresh_grace.recall(ctx.limiter.redis, token) if ctx.limiter is not None else None
        if pair is not None:
            return Issued(pair=pair, session_id=auth.id)
        raise unavailable("refresh", 1)  # the twin's answer is out of reach: retry, session kept
    session_id, user_id, earlier_reason = auth.id, auth.user_id, auth.revoked_reason
    revoked = await repo.revoke_sessions(ctx.session, "refresh_reuse", session_ids=[session_id])
    if revoked:
        record_event(ctx, "refresh_token_reuse", user_id=user_id, session=str(session_id))
    ctx.forget_after_commit([session_id])
    await record_now(ctx.session)  # the revocation stands although the caller is refused
    raise session_errors.session_revoked() if revoked else session_errors.session_ended(earlier_reason)


async def logout(ctx: Ctx, principal: Principal, everywhere: bool) -> None:
    if everywhere:
        revoked = await repo.revoke_sessions(ctx.session, "logout_all", user_id=principal.user_id)
    else:
        revoked = await repo.revoke_sessions(
            ctx.session, "logout", user_id=principal.user_id, session_ids=[principal.session_id]
        )
    record_event(ctx, "logout", user_id=principal.user_id, all=everywhere, sessions=len(revoked))
    ctx.forget_after_commit([*revoked, principal.session_id])
