"""PIN reset (SMS code) and PIN change."""

from __future__ import annotations

import structlog

from samaconso.identity import repository as repo
from samaconso.identity.audit import record_event
from samaconso.identity.context import Ctx, check_secret, hash_new_secret
from samaconso.identity.logins import check_lock, count_failure
from samaconso.identity.models import (
    OtpPurpose,
    Role,
)
from samaconso.identity.otp_codes import consume_otp, otp_invalid
from samaconso.identity.principal import Principal
from samaconso.kit.errors import AppError

log = structlog.get_logger(__name__)


async def reset_pin(ctx: Ctx, phone: str, code: str, new_pin: str) -> None:
    session = ctx.session
    await consume_otp(ctx, phone, OtpPurpose.pin_reset, code)
    user = await repo.customer_by_phone(session, phone, lock=True)
    if user is None or not user.is_active:
        raise otp_invalid()
    user.pin_hash = await hash_new_secret(new_pin)
    user.failed_attempts = 0
    user.locked_until = None
    revoked = await repo.revoke_sessions(session, "pin_reset", user_id=user.id)
    record_event(ctx, "pin_reset", user_id=user.id, sessions_revoked=len(revoked))
    ctx.forget_after_commit(revoked)


async def change_pin(ctx: Ctx, principal: Principal, current_pin: str, new_pin: str) -> None:
    session = ctx.session
    user = await repo.user_by_id(session, principal.user_id, lock=True)
    if user is None or user.role != Role.customer or user.pin_hash is None:
        raise AppError(
            403, "customer_only", "Réservé aux clients de l'application.", "Reserved to app customers."
        )
    await check_lock(ctx, user)
    if not await check_secret(user.pin_hash, current_pin):
        raise await count_failure(
            ctx,
            user,
            "pin_change",
            AppError(400, "pin_incorrect", "Code PIN actuel incorrect.", "Current PIN is incorrect."),
        )
    if current_pin == new_pin:
        raise AppError(
            400, "pin_unchanged", "Choisissez un nouveau code PIN différent.", "Choose a different PIN."
        )
    user.pin_hash = await hash_new_secret(new_pin)
    user.failed_attempts = 0
    revoked = await repo.revoke_sessions(
        session, "pin_changed", user_id=user.id, except_session=principal.session_id
    )
    record_event(ctx, "pin_changed", user_id=user.id, sessions_revoked=len(revoked))
    ctx.forget_after_commit(revoked)
