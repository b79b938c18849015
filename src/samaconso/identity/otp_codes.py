"""One-time codes sent by SMS (sign-up, PIN reset): quotas, sending, checking, purging."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

import structlog

from samaconso.identity import lockouts
from samaconso.identity import repository as repo
from samaconso.identity.audit import record_event
from samaconso.identity.context import Ctx, limit_per_ip
from samaconso.identity.models import (
    OtpCode,
    OtpPurpose,
)
from samaconso.identity.phones import mask_phone
from samaconso.identity.sms import SmsError
from samaconso.identity.sms_delivery import deliver_sms
from samaconso.kit.errors import AppError, too_many, unavailable
from samaconso.kit.transaction import record_now
from samaconso.settings import Settings

log = structlog.get_logger(__name__)


# Per-IP limits (fixed windows in Redis, shared by every API instance).
OTP_IP_LIMIT = (20, 3600)  # codes requested per IP per hour


CHECK_IP_LIMIT = (30, 600)  # sign-up / PIN reset code checks per IP per 10 minutes


OTP_WINDOW = timedelta(hours=1)


def otp_invalid() -> AppError:
    return AppError(
        400,
        "otp_invalid",
        "Code de vérification invalide ou expiré. Demandez un nouveau code.",
        "Invalid or expired verification code. Please request a new code.",
    )


def _otp_digest(settings: Settings, phone: str, purpose: OtpPurpose, code: str) -> str:
    """Keyed digest: a stolen table cannot be brute-forced without the server key."""
    key = settings.jwt_secret.get_secret_value().encode()
    return hmac.new(key, f"otp:{phone}:{purpose.value}:{code}".encode(), hashlib.sha256).hexdigest()


def _otp_message(purpose: OtpPurpose, code: str, minutes: int, language: str) -> str:
    if purpose == OtpPurpose.signup:
        if language == "en":
            return f"SamaConso: your sign-up code is {code}. Valid {minutes} min. Never share it."
        return (
            f"SamaConso : votre code d'inscription est {code}. Valable {minutes} min. Ne le partagez jamais."
        )
    if language == "en":
        return f"SamaConso: your PIN reset code is {code}. Valid {minutes} min. Never share it."
    return (
        f"SamaConso : votre code de réinitialisation du PIN est {code}. Valable {minutes} min. "
        "Ne le partagez jamais."
    )


def _already_registered_message(language: str) -> str:
    if language == "en":
        return 'SamaConso: this number already has an account. Sign in with your PIN or choose "Forgot PIN".'
    return (
        "SamaConso : ce numéro a déjà un compte. Connectez-vous avec votre PIN ou choisissez « PIN oublié »."
    )


async def request_otp(ctx: Ctx, phone: str, purpose: OtpPurpose, language: str = "fr") -> int:
    """Create and send a 6-digit code. Returns its validity in seconds. Always answers the same way
    whether or not the phone has an account (no enumeration); quotas apply in every case."""
    settings = ctx.settings
    await limit_per_ip(ctx, "otp-ip", OTP_IP_LIMIT)
    session = ctx.session
    # Serialise requests for one phone (transaction-scoped lock: safe behind PgBouncer).
    await repo.lock_key(session, f"otp:{phone}")
    total, mine, my_oldest, oldest, latest = await repo.otp_window_stats(session, phone, ctx.ip, OTP_WINDOW)
    now = await repo.db_now(session)
    wait = lockouts.otp_wait_s(
        settings,
        now,
        total=total,
        from_requester=mine,
        oldest_from_requester=my_oldest,
        oldest=oldest,
        latest=latest,
    )
    if wait is not None:
        record_event(ctx, "otp_quota_exceeded", phone=mask_phone(phone), purpose=purpose.value)
        await record_now(session)
        raise too_many(wait, "otp_quota_exceeded")
    user = await repo.customer_by_phone(session, phone)
    code = f"{secrets.randbelow(1_000_000):06d}"
    otp = OtpCode(
        phone=phone,
        purpose=purpose,
        code_hash=_otp_digest(settings, phone, purpose, code),
        expires_at=now + timedelta(seconds=settings.otp_ttl_s),
        ip=ctx.ip,
    )
    session.add(otp)
    message: str | None
    if purpose == OtpPurpose.signup:
        message = (
            _already_registered_message(user.language)
            if user is not None
            else _otp_message(purpose, code, settings.otp_ttl_s // 60, language)
        )
    else:
        active = user is not None and user.is_active
        message = (
            _otp_message(purpose, code, settings.otp_ttl_s // 60, user.language) if active and user else None
        )
    record_event(
        ctx,
        "otp_requested",
        user_id=user.id if user else None,
        phone=mask_phone(phone),
        purpose=purpose.value,
    )
    # The code (and its place in the quota) is recorded before its SMS leaves: a quick user never
    # races an uncommitted code, and the phone's lock is not held during the delivery.
    await record_now(session)
    if message is not None:
        try:
            how = await deliver_sms(settings, phone, message)
        except SmsError as exc:
            await repo.delete_otp(session, otp.id)
            await record_now(session)  # withdrawn: it does not count against the quota
            raise unavailable("sms", 60) from exc
        log.info("otp_sent", purpose=purpose.value, to_suffix=phone[-4:], delivery=how)
    return settings.otp_ttl_s


async def consume_otp(ctx: Ctx, phone: str, purpose: OtpPurpose, code: str) -> None:
    """Check the latest code sent to ``phone``; consumes it when right. A wrong try is counted and
    committed at once; after ``otp_max_attempts`` the code is dead."""
    await limit_per_ip(ctx, "otp-check-ip", CHECK_IP_LIMIT)
    session = ctx.session
    otp = await repo.latest_otp(session, phone, purpose)
    now = await repo.db_now(session)
    if (
        otp is None
        or otp.consumed_at is not None
        or otp.expires_at <= now
        or otp.attempts >= ctx.settings.otp_max_attempts
    ):
        raise otp_invalid()
    expected = otp.code_hash
    given = _otp_digest(ctx.settings, phone, purpose, code)
    if not hmac.compare_digest(expected, given):
        otp.attempts += 1
        record_event(ctx, "otp_failed", phone=mask_phone(phone), purpose=purpose.value, attempts=otp.attempts)
        await record_now(session)
        raise otp_invalid()
    otp.consumed_at = now


async def purge_old_codes(ctx: Ctx, older_than: timedelta = timedelta(days=1)) -> int:
    """Forget one-time codes once they can matter no more (quotas look one hour back)."""
    return await repo.purge_otps(ctx.session, older_than)
