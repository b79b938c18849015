"""Identity rules: one-time codes, sign-up, logins and lockouts, token rotation, devices, profile,
staff accounts, agencies and the security audit trail. No HTTP here: the router adapts."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import anyio
import filetype
import structlog
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.identity import ldap as ldap_auth
from samaconso.identity import repository as repo
from samaconso.identity.delivery import deliver_sms
from samaconso.identity.models import (
    STAFF_ROLES,
    Agency,
    AuditEvent,
    AuthSession,
    AuthSource,
    Device,
    OtpCode,
    OtpPurpose,
    RefreshToken,
    Role,
    User,
)
from samaconso.identity.phones import mask_phone
from samaconso.identity.schemas import (
    AgencyIn,
    AgencyPatch,
    DeviceIn,
    DeviceOut,
    LoginRequest,
    MePatch,
    SignupRequest,
    StaffCreate,
    StaffPatch,
    TokenPair,
    UserOut,
)
from samaconso.identity.seed import legacy_key
from samaconso.identity.sms import SmsError
from samaconso.kit.errors import AppError, not_found, too_many, unavailable
from samaconso.kit.outbound import CircuitOpenError
from samaconso.kit.ratelimit import RateLimiter
from samaconso.kit.security import (
    hash_secret,
    issue_access_token,
    new_opaque_token,
    token_digest,
    verify_secret,
)
from samaconso.kit.storage import Storage, StorageError
from samaconso.settings import Settings

if TYPE_CHECKING:
    from samaconso.identity.deps import Principal

log = structlog.get_logger(__name__)

# Per-IP limits (fixed windows in Redis, shared by every API instance).
OTP_IP_LIMIT = (20, 3600)  # codes requested per IP per hour
LOGIN_IP_LIMIT = (30, 60)  # login attempts (customer or staff) per IP per minute
CHECK_IP_LIMIT = (30, 600)  # sign-up / PIN reset code checks per IP per 10 minutes
# Token refreshes per IP per minute: one per device every 15 min, generous for carrier-grade NAT.
REFRESH_IP_LIMIT = (120, 60)
OTP_WINDOW = timedelta(hours=1)

AVATAR_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}

Forget = Callable[[Sequence[uuid.UUID]], Awaitable[None]]


async def _forget_nothing(_: Sequence[uuid.UUID]) -> None:
    return None


@dataclass
class Ctx:
    """What a service call needs from its caller (the router or a task)."""

    session: AsyncSession
    settings: Settings
    limiter: RateLimiter | None = None
    storage: Storage | None = None
    ip: str | None = None
    user_agent: str | None = None
    forget: Forget = field(default=_forget_nothing)


# --- errors ------------------------------------------------------------------------------------


def _invalid_credentials() -> AppError:
    return AppError(
        401,
        "invalid_credentials",
        "Identifiants incorrects.",
        "Incorrect credentials.",
        headers={"WWW-Authenticate": "Bearer"},
    )


def _locked(retry_after_s: int) -> AppError:
    return AppError(
        423,
        "account_locked",
        "Trop de codes erronés : compte bloqué temporairement. Réessayez plus tard.",
        "Too many wrong codes: account temporarily locked. Please retry later.",
        headers={"Retry-After": str(max(1, retry_after_s))},
    )


def _otp_invalid() -> AppError:
    return AppError(
        400,
        "otp_invalid",
        "Code de vérification invalide ou expiré. Demandez un nouveau code.",
        "Invalid or expired verification code. Please request a new code.",
    )


def _refresh_invalid() -> AppError:
    return AppError(
        401,
        "invalid_refresh_token",
        "Session expirée : connectez-vous à nouveau.",
        "Session expired: please sign in again.",
        headers={"WWW-Authenticate": "Bearer"},
    )


# --- helpers -----------------------------------------------------------------------------------


def _otp_digest(settings: Settings, phone: str, purpose: OtpPurpose, code: str) -> str:
    """Keyed digest: a stolen table cannot be brute-forced without the server key."""
    key = settings.jwt_secret.get_secret_value().encode()
    return hmac.new(key, f"otp:{phone}:{purpose.value}:{code}".encode(), hashlib.sha256).hexdigest()


async def _verify(stored_hash: str | None, secret: str) -> bool:
    return await anyio.to_thread.run_sync(verify_secret, stored_hash, secret)


async def _hash(secret: str) -> str:
    return await anyio.to_thread.run_sync(hash_secret, secret)


async def _limit(ctx: Ctx, name: str, rule: tuple[int, int]) -> None:
    if ctx.limiter is not None and ctx.ip:
        await ctx.limiter.check(f"{name}:{ctx.ip}", rule[0], rule[1])


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        role=user.role,
        phone=user.phone,
        login=user.login,
        first_name=user.first_name,
        last_name=user.last_name,
        email=user.email,
        language=user.language,
        agency_id=user.agency_id,
        auth_source=user.auth_source,
        is_active=user.is_active,
        has_avatar=user.avatar_key is not None,
        created_at=user.created_at,
    )


def device_out(device: Device, current_device: uuid.UUID | None = None) -> DeviceOut:
    return DeviceOut(
        id=device.id,
        device_id=device.device_id,
        model=device.model,
        platform=device.platform,
        is_active=device.is_active,
        has_push=device.fcm_token is not None and device.token_invalid_at is None,
        last_seen_at=device.last_seen_at,
        created_at=device.created_at,
        signed_out_at=device.signed_out_at,
        signed_out_reason=device.signed_out_reason,
        current=device.id == current_device,
    )


def _audit(
    ctx: Ctx,
    event: str,
    *,
    user_id: uuid.UUID | None = None,
    actor_id: uuid.UUID | None = None,
    **details: Any,
) -> None:
    repo.add_audit(
        ctx.session,
        event,
        user_id=user_id,
        actor_id=actor_id,
        ip=ctx.ip,
        details={k: v for k, v in details.items() if v is not None},
    )


async def _notify(
    session: AsyncSession,
    user_id: uuid.UUID,
    kind: str,
    texts: tuple[str, str, str, str],
    data: dict[str, str],
) -> uuid.UUID:
    """Tell the user through the notifications domain, in the caller's transaction (outbox)."""
    from samaconso.notifications.service import notify_user

    return await notify_user(
        session,
        user_id=user_id,
        type=kind,
        title_fr=texts[0],
        body_fr=texts[1],
        title_en=texts[2],
        body_en=texts[3],
        data=data,
    )


# --- one-time codes ----------------------------------------------------------------------------


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
    await _limit(ctx, "otp-ip", OTP_IP_LIMIT)
    session = ctx.session
    # Serialise requests for one phone (transaction-scoped lock: safe behind PgBouncer).
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"otp:{phone}"})
    count, oldest = await repo.otp_count_since(session, phone, OTP_WINDOW)
    now = await repo.db_now(session)
    if count >= settings.otp_max_per_hour:
        retry = _seconds_until(oldest + OTP_WINDOW, now) if oldest else 3600
        _audit(ctx, "otp_quota_exceeded", phone=mask_phone(phone), purpose=purpose.value)
        await session.commit()
        raise too_many(retry, "otp_quota_exceeded")
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
    _audit(
        ctx,
        "otp_requested",
        user_id=user.id if user else None,
        phone=mask_phone(phone),
        purpose=purpose.value,
    )
    await session.commit()
    if message is not None:
        try:
            how = await deliver_sms(settings, phone, message)
        except SmsError as exc:
            await session.execute(delete(OtpCode).where(OtpCode.id == otp.id))
            await session.commit()
            raise unavailable("sms", 60) from exc
        log.info("otp_sent", purpose=purpose.value, to_suffix=phone[-4:], delivery=how)
    return settings.otp_ttl_s


async def _consume_otp(ctx: Ctx, phone: str, purpose: OtpPurpose, code: str) -> None:
    """Check the latest code sent to ``phone``; consumes it when right. A wrong try is counted and
    committed at once; after ``otp_max_attempts`` the code is dead."""
    await _limit(ctx, "otp-check-ip", CHECK_IP_LIMIT)
    session = ctx.session
    otp = await repo.latest_otp(session, phone, purpose)
    now = await repo.db_now(session)
    if (
        otp is None
        or otp.consumed_at is not None
        or otp.expires_at <= now
        or otp.attempts >= ctx.settings.otp_max_attempts
    ):
        await session.rollback()
        raise _otp_invalid()
    expected = otp.code_hash
    given = _otp_digest(ctx.settings, phone, purpose, code)
    if not hmac.compare_digest(expected, given):
        otp.attempts += 1
        _audit(ctx, "otp_failed", phone=mask_phone(phone), purpose=purpose.value, attempts=otp.attempts)
        await session.commit()
        raise _otp_invalid()
    otp.consumed_at = now


# --- sessions ----------------------------------------------------------------------------------


@dataclass
class Issued:
    pair: TokenPair
    session_id: uuid.UUID


async def _open_session(ctx: Ctx, user: User, device: Device | None) -> Issued:
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


# --- devices -----------------------------------------------------------------------------------

_SIGNED_OUT_TEXT = {
    "device_limit": (
        "Appareil déconnecté",
        "Votre compte a été ouvert sur un autre appareil : {model} a été déconnecté (2 appareils au maximum).",
        "Device signed out",
        "Your account was opened on another device: {model} was signed out (2 devices at most).",
    ),
    "idle": (
        "Appareil déconnecté",
        "{model} a été déconnecté après 30 jours sans utilisation.",
        "Device signed out",
        "{model} was signed out after 30 days without use.",
    ),
}


async def _sign_out_devices(
    ctx: Ctx, user_id: uuid.UUID, devices: Sequence[Device], reason: str
) -> list[uuid.UUID]:
    if not devices:
        return []
    for device in devices:
        device.is_active = False
        device.signed_out_at = func.now()
        device.signed_out_reason = reason
    revoked = await repo.revoke_sessions(
        ctx.session, f"device_{reason}"[:40], user_id=user_id, device_ids=[d.id for d in devices]
    )
    for device in devices:
        label = device.model or device.device_id[:40]
        texts = _SIGNED_OUT_TEXT.get(reason)
        notification: uuid.UUID | None = None
        if texts is not None:
            notification = await _notify(
                ctx.session,
                user_id,
                "device_signed_out",
                (texts[0], texts[1].format(model=label), texts[2], texts[3].format(model=label)),
                {"device_id": str(device.id), "reason": reason},
            )
        _audit(
            ctx,
            "device_signed_out",
            user_id=user_id,
            device=str(device.id),
            reason=reason,
            notification=str(notification) if notification else None,
        )
    return revoked


async def _attach_device(
    ctx: Ctx,
    user: User,
    device_key: str,
    *,
    fcm_token: str | None,
    model: str | None,
    platform: str | None,
) -> tuple[Device, list[uuid.UUID]]:
    """Create or refresh the caller's device, move its FCM token to it, enforce the device limit.
    Returns the device and the sessions revoked because another device was signed out."""
    session = ctx.session
    device = await repo.device_of_user(session, user.id, device_key)
    created = device is None
    if device is None:
        device = Device(user_id=user.id, device_id=device_key)
        session.add(device)
        await session.flush()
    device.is_active = True
    device.signed_out_at = None
    device.signed_out_reason = None
    device.last_seen_at = func.now()
    if model:
        device.model = model
    if platform:
        device.platform = platform
    if fcm_token:
        digest = token_digest(fcm_token)
        if device.fcm_token_hash != digest:
            # Two registrations of one token at once queue up here instead of colliding on the index.
            await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"fcm:{digest}"})
            await repo.release_fcm_token(session, digest, keep=device.id)
            device.fcm_token = fcm_token
            device.fcm_token_hash = digest
            device.token_invalid_at = None
    await session.flush()
    revoked: list[uuid.UUID] = []
    if user.role == Role.customer:
        others = [d for d in await repo.active_devices(session, user.id) if d.id != device.id]
        keep = max(0, ctx.settings.max_customer_devices - 1)
        revoked = await _sign_out_devices(ctx, user.id, others[keep:], "device_limit")
    if created:
        _audit(
            ctx, "device_registered", user_id=user.id, device=str(device.id), model=model, platform=platform
        )
    return device, revoked


# --- sign-up and logins ------------------------------------------------------------------------


async def _device_from(
    ctx: Ctx, user: User, body: SignupRequest | LoginRequest
) -> tuple[Device | None, list[uuid.UUID]]:
    """The device a sign-up or login names (registered or refreshed), and the sessions it displaced."""
    if not body.device_id:
        return None, []
    return await _attach_device(
        ctx, user, body.device_id, fcm_token=body.fcm_token, model=body.device_model, platform=body.platform
    )


async def signup(ctx: Ctx, body: SignupRequest) -> Issued:
    session = ctx.session
    await _consume_otp(ctx, body.phone, OtpPurpose.signup, body.otp)
    if await repo.phone_taken(session, body.phone):
        await session.rollback()
        raise AppError(
            409,
            "phone_taken",
            "Ce numéro a déjà un compte : connectez-vous ou réinitialisez votre PIN.",
            "This number already has an account: sign in or reset your PIN.",
        )
    user = User(
        role=Role.customer,
        phone=body.phone,
        pin_hash=await _hash(body.pin),
        first_name=body.first_name,
        last_name=body.last_name,
        email=str(body.email) if body.email else None,
        language=body.language,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise AppError(
            409, "phone_taken", "Ce numéro a déjà un compte.", "This number already has an account."
        ) from None
    await session.refresh(user)
    device, _ = await _device_from(ctx, user, body)
    issued = await _open_session(ctx, user, device)
    _audit(ctx, "signup", user_id=user.id, phone=mask_phone(user.phone))
    await session.commit()
    return issued


async def _check_lock(ctx: Ctx, user: User) -> None:
    if user.locked_until is None:
        return
    now = await repo.db_now(ctx.session)
    if user.locked_until > now:
        retry = _seconds_until(user.locked_until, now)
        await ctx.session.rollback()
        raise _locked(retry)


async def _count_failure(ctx: Ctx, user: User, kind: str, error: AppError) -> AppError:
    """Record one wrong PIN/password; lock the account at the threshold. Commits. Returns the error
    to raise (423 when this failure locked the account)."""
    settings = ctx.settings
    user.failed_attempts += 1
    if user.failed_attempts >= settings.pin_max_failures:
        user.failed_attempts = 0
        now = await repo.db_now(ctx.session)
        user.locked_until = now + timedelta(seconds=settings.pin_lockout_s)
        _audit(ctx, f"{kind}_failed", user_id=user.id)
        _audit(ctx, "lockout", user_id=user.id, seconds=settings.pin_lockout_s)
        await ctx.session.commit()
        return _locked(settings.pin_lockout_s)
    _audit(ctx, f"{kind}_failed", user_id=user.id, attempts=user.failed_attempts)
    await ctx.session.commit()
    return error


async def _phantom_failure(ctx: Ctx, key: str) -> AppError:
    """A number or staff login without an account behaves like one that has: after
    ``pin_max_failures`` tries it answers "locked" for ``pin_lockout_s`` too, so a lockout never
    tells that an account exists."""
    if ctx.limiter is None:
        return _invalid_credentials()
    allowed, retry_after = await ctx.limiter.hit(
        key, ctx.settings.pin_max_failures - 1, ctx.settings.pin_lockout_s
    )
    return _invalid_credentials() if allowed else _locked(retry_after)


async def login(ctx: Ctx, body: LoginRequest) -> tuple[Issued, list[uuid.UUID]]:
    await _limit(ctx, "login-ip", LOGIN_IP_LIMIT)
    session = ctx.session
    user = await repo.customer_by_phone(session, body.phone, lock=True)
    if user is None or not user.is_active or user.pin_hash is None:
        await _verify(None, body.pin)  # same cost as a real check: no account enumeration by timing
        _audit(
            ctx,
            "login_failed",
            user_id=user.id if user else None,
            phone=mask_phone(body.phone),
            reason="unknown" if user is None else "inactive",
        )
        await session.commit()
        raise await _phantom_failure(ctx, f"pin-fail:{body.phone}")
    await _check_lock(ctx, user)
    if not await _verify(user.pin_hash, body.pin):
        raise await _count_failure(ctx, user, "login", _invalid_credentials())
    user.failed_attempts = 0
    user.locked_until = None
    device, revoked = await _device_from(ctx, user, body)
    issued = await _open_session(ctx, user, device)
    _audit(
        ctx,
        "login_ok",
        user_id=user.id,
        session=str(issued.session_id),
        device=str(device.id) if device else None,
    )
    await session.commit()
    await ctx.forget(revoked)
    return issued, revoked


async def staff_login(ctx: Ctx, login_name: str, password: str) -> Issued:
    await _limit(ctx, "login-ip", LOGIN_IP_LIMIT)
    session = ctx.session
    user = await repo.staff_by_login(session, login_name.strip(), lock=True)
    if user is None or not user.is_active:
        await _verify(None, password)
        _audit(
            ctx,
            "staff_login_failed",
            user_id=user.id if user else None,
            reason="unknown" if user is None else "inactive",
        )
        await session.commit()
        raise await _phantom_failure(ctx, f"staff-fail:{login_name.strip().lower()}")
    await _check_lock(ctx, user)
    if user.auth_source == AuthSource.ldap:
        if not ctx.settings.ldap_enabled:
            await session.rollback()
            raise unavailable("ldap", 60)
        try:
            ok = await ldap_auth.check_password(ctx.settings, user.login or "", password)
        except CircuitOpenError as exc:
            await session.rollback()
            raise unavailable("ldap", int(exc.retry_after_s)) from exc
        except (ldap_auth.DirectoryUnavailable, TimeoutError) as exc:
            await session.rollback()
            raise unavailable("ldap", 30) from exc
    else:
        ok = await _verify(user.password_hash, password)
    if not ok:
        raise await _count_failure(ctx, user, "staff_login", _invalid_credentials())
    user.failed_attempts = 0
    user.locked_until = None
    issued = await _open_session(ctx, user, None)
    _audit(
        ctx, "staff_login_ok", user_id=user.id, session=str(issued.session_id), method=user.auth_source.value
    )
    await session.commit()
    return issued


async def refresh(ctx: Ctx, token: str) -> Issued:
    await _limit(ctx, "refresh-ip", REFRESH_IP_LIMIT)
    session = ctx.session
    stored = await repo.refresh_token_by_hash(session, token_digest(token))
    if stored is None:
        await session.rollback()
        raise _refresh_invalid()
    auth = (
        await session.execute(
            select(AuthSession).where(AuthSession.id == stored.session_id).with_for_update()
        )
    ).scalar_one()
    if stored.rotated_at is not None:
        # A rotated token came back: it was stolen (or the app is broken). Kill the whole session.
        revoked = await repo.revoke_sessions(session, "refresh_reuse", session_ids=[auth.id])
        if revoked:
            _audit(ctx, "refresh_token_reuse", user_id=auth.user_id, session=str(auth.id))
        await session.commit()
        await ctx.forget([auth.id])
        raise _refresh_invalid()
    now = await repo.db_now(session)
    user = await repo.user_by_id(session, auth.user_id)
    if auth.revoked_at is not None or auth.expires_at <= now or user is None or not user.is_active:
        await session.rollback()
        raise _refresh_invalid()
    stored.rotated_at = now
    auth.last_used_at = now
    if auth.device_id is not None:
        await session.execute(
            update(Device).where(Device.id == auth.device_id, Device.is_active).values(last_seen_at=now)
        )
    new_token = new_opaque_token()
    session.add(RefreshToken(session_id=auth.id, token_hash=token_digest(new_token)))
    access = issue_access_token(ctx.settings, user_id=user.id, session_id=auth.id, role=user.role.value)
    await session.commit()
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
    _audit(ctx, "logout", user_id=principal.user_id, all=everywhere, sessions=len(revoked))
    await ctx.session.commit()
    await ctx.forget([*revoked, principal.session_id])


# --- PINs --------------------------------------------------------------------------------------


async def reset_pin(ctx: Ctx, phone: str, code: str, new_pin: str) -> None:
    session = ctx.session
    await _consume_otp(ctx, phone, OtpPurpose.pin_reset, code)
    user = await repo.customer_by_phone(session, phone, lock=True)
    if user is None or not user.is_active:
        await session.rollback()
        raise _otp_invalid()
    user.pin_hash = await _hash(new_pin)
    user.failed_attempts = 0
    user.locked_until = None
    revoked = await repo.revoke_sessions(session, "pin_reset", user_id=user.id)
    _audit(ctx, "pin_reset", user_id=user.id, sessions_revoked=len(revoked))
    await session.commit()
    await ctx.forget(revoked)


async def change_pin(ctx: Ctx, principal: Principal, current_pin: str, new_pin: str) -> None:
    session = ctx.session
    user = await repo.user_by_id(session, principal.user_id, lock=True)
    if user is None or user.role != Role.customer or user.pin_hash is None:
        await session.rollback()
        raise AppError(
            403, "customer_only", "Réservé aux clients de l'application.", "Reserved to app customers."
        )
    await _check_lock(ctx, user)
    if not await _verify(user.pin_hash, current_pin):
        raise await _count_failure(
            ctx,
            user,
            "pin_change",
            AppError(400, "pin_incorrect", "Code PIN actuel incorrect.", "Current PIN is incorrect."),
        )
    if current_pin == new_pin:
        await session.rollback()
        raise AppError(
            400, "pin_unchanged", "Choisissez un nouveau code PIN différent.", "Choose a different PIN."
        )
    user.pin_hash = await _hash(new_pin)
    user.failed_attempts = 0
    revoked = await repo.revoke_sessions(
        session, "pin_changed", user_id=user.id, except_session=principal.session_id
    )
    _audit(ctx, "pin_changed", user_id=user.id, sessions_revoked=len(revoked))
    await session.commit()
    await ctx.forget(revoked)


# --- profile -----------------------------------------------------------------------------------


async def _me(ctx: Ctx, principal: Principal, *, lock: bool = False) -> User:
    user = await repo.user_by_id(ctx.session, principal.user_id, lock=lock)
    if user is None or not user.is_active:
        raise not_found()
    return user


async def get_me(ctx: Ctx, principal: Principal) -> UserOut:
    return user_out(await _me(ctx, principal))


async def patch_me(ctx: Ctx, principal: Principal, body: MePatch) -> UserOut:
    user = await _me(ctx, principal, lock=True)
    fields = body.model_fields_set
    if "first_name" in fields and body.first_name is not None:
        user.first_name = body.first_name
    if "last_name" in fields and body.last_name is not None:
        user.last_name = body.last_name
    if "email" in fields:
        user.email = str(body.email) if body.email else None
    if "language" in fields and body.language is not None:
        user.language = body.language
    await ctx.session.commit()
    await ctx.session.refresh(user)
    if "language" in fields:
        await ctx.forget([principal.session_id])  # the cached principal carries the language
    return user_out(user)


def _storage(ctx: Ctx) -> Storage:
    if ctx.storage is None:
        raise unavailable("storage", 30)
    return ctx.storage


async def set_avatar(ctx: Ctx, principal: Principal, data: bytes) -> UserOut:
    kind = filetype.guess(data) if data else None
    mime = kind.mime if kind is not None else ""
    if mime not in AVATAR_TYPES:
        raise AppError(
            415,
            "unsupported_image",
            "Image refusée : envoyez une photo JPEG, PNG ou WebP.",
            "Image refused: send a JPEG, PNG or WebP picture.",
        )
    storage = _storage(ctx)
    user = await _me(ctx, principal, lock=True)
    old_key = user.avatar_key
    key = f"{user.id}/{uuid.uuid4().hex}.{AVATAR_TYPES[mime]}"
    try:
        await storage.put(ctx.settings.s3_bucket_avatars, key, data, mime, {"user": str(user.id)})
    except StorageError as exc:
        await ctx.session.rollback()
        raise unavailable("storage", 30) from exc
    user.avatar_key = key
    await ctx.session.commit()
    await ctx.session.refresh(user)
    if old_key:
        try:
            await storage.delete(ctx.settings.s3_bucket_avatars, old_key)
        except StorageError:
            log.warning("avatar_old_not_deleted")
    return user_out(user)


async def get_avatar(ctx: Ctx, principal: Principal) -> tuple[bytes, str]:
    user = await _me(ctx, principal)
    if not user.avatar_key:
        raise not_found("Aucune photo de profil.", "No profile picture.")
    try:
        return await _storage(ctx).get(ctx.settings.s3_bucket_avatars, user.avatar_key)
    except StorageError as exc:
        raise unavailable("storage", 30) from exc


async def delete_me(ctx: Ctx, principal: Principal) -> None:
    """Close the account: deactivated, personal data erased, meter links revoked, sessions and
    devices signed out. The row stays (audit trail and foreign keys) but says nothing about anyone."""
    from samaconso.meters.models import LinkStatus, MeterLink

    session = ctx.session
    user = await _me(ctx, principal, lock=True)
    old_avatar = user.avatar_key
    old_phone = user.phone
    user.phone = None
    user.email = None
    user.first_name = ""
    user.last_name = ""
    user.pin_hash = None
    user.password_hash = None
    user.avatar_key = None
    user.is_active = False
    user.deleted_at = func.now()
    await session.execute(
        update(MeterLink)
        .where(MeterLink.user_id == user.id, MeterLink.status.in_([LinkStatus.pending, LinkStatus.active]))
        .values(status=LinkStatus.revoked, is_default=False, decided_at=func.now(), decided_by=user.id)
    )
    await session.execute(
        update(Device)
        .where(Device.user_id == user.id)
        .values(
            is_active=False,
            fcm_token=None,
            fcm_token_hash=None,
            signed_out_at=func.coalesce(Device.signed_out_at, func.now()),
            signed_out_reason=func.coalesce(Device.signed_out_reason, "account_deleted"),
        )
    )
    if old_phone:
        await session.execute(delete(OtpCode).where(OtpCode.phone == old_phone))
    revoked = await repo.revoke_sessions(session, "account_deleted", user_id=user.id)
    _audit(ctx, "account_deleted", user_id=user.id, actor_id=user.id)
    await session.commit()
    await ctx.forget([*revoked, principal.session_id])
    if old_avatar and ctx.storage is not None:
        try:
            await ctx.storage.delete(ctx.settings.s3_bucket_avatars, old_avatar)
        except StorageError:
            log.warning("avatar_not_erased", user_id=str(user.id))


# --- devices (API) -----------------------------------------------------------------------------


async def register_device(ctx: Ctx, principal: Principal, body: DeviceIn) -> DeviceOut:
    session = ctx.session
    user = await _me(ctx, principal, lock=True)
    device, revoked = await _attach_device(
        ctx, user, body.device_id, fcm_token=body.fcm_token, model=body.model, platform=body.platform
    )
    await session.execute(
        update(AuthSession).where(AuthSession.id == principal.session_id).values(device_id=device.id)
    )
    await session.commit()
    await session.refresh(device)
    await ctx.forget(revoked)
    return device_out(device, device.id)


async def _current_device(ctx: Ctx, principal: Principal) -> uuid.UUID | None:
    return (
        await ctx.session.execute(select(AuthSession.device_id).where(AuthSession.id == principal.session_id))
    ).scalar_one_or_none()


async def list_devices(
    ctx: Ctx, principal: Principal, limit: int, after: tuple[datetime, uuid.UUID] | None
) -> tuple[list[DeviceOut], tuple[datetime, uuid.UUID] | None]:
    rows = await repo.list_devices(ctx.session, principal.user_id, limit=limit, after=after)
    current = await _current_device(ctx, principal)
    items = [device_out(d, current) for d in rows[:limit]]
    nxt = (rows[limit - 1].last_seen_at, rows[limit - 1].id) if len(rows) > limit else None
    return items, nxt


async def remove_device(ctx: Ctx, principal: Principal, device_pk: uuid.UUID) -> None:
    session = ctx.session
    device = await repo.device_by_id(session, principal.user_id, device_pk)
    if device is None:
        raise not_found("Appareil introuvable.", "Device not found.")
    device.is_active = False
    device.fcm_token = None
    device.fcm_token_hash = None
    device.signed_out_at = func.now()
    device.signed_out_reason = "removed"
    revoked = await repo.revoke_sessions(
        session, "device_removed", user_id=principal.user_id, device_ids=[device.id]
    )
    _audit(ctx, "device_removed", user_id=principal.user_id, device=str(device.id))
    await session.commit()
    await ctx.forget(revoked)


async def sign_out_idle_devices(ctx: Ctx, batch: int = 500) -> int:
    """Sign out devices unused for ``device_idle_days`` (periodic task). Returns how many."""
    total = 0
    idle = timedelta(days=ctx.settings.device_idle_days)
    while True:
        devices = await repo.idle_devices(ctx.session, idle, batch)
        if not devices:
            break
        revoked: list[uuid.UUID] = []
        by_user: dict[uuid.UUID, list[Device]] = {}
        for device in devices:
            by_user.setdefault(device.user_id, []).append(device)
        for user_id, owned in by_user.items():
            revoked += await _sign_out_devices(ctx, user_id, owned, "idle")
        await ctx.session.commit()
        await ctx.forget(revoked)
        total += len(devices)
        if len(devices) < batch:
            break
    return total


async def purge_old_codes(ctx: Ctx, older_than: timedelta = timedelta(days=1)) -> int:
    """Forget one-time codes once they can matter no more (quotas look one hour back)."""
    result = await ctx.session.execute(delete(OtpCode).where(OtpCode.created_at < func.now() - older_than))
    await ctx.session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


# --- staff accounts (admins) -------------------------------------------------------------------


async def _agency_must_exist(ctx: Ctx, agency_id: uuid.UUID) -> None:
    if await repo.agency_by_id(ctx.session, agency_id) is None:
        raise AppError(400, "agency_unknown", "Agence inconnue.", "Unknown agency.")


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
    if (await session.execute(select(User.id).where(User.login == body.login))).first():
        raise AppError(409, "login_taken", "Cet identifiant existe déjà.", "This login already exists.")
    user = User(
        role=role,
        login=body.login,
        agency_id=body.agency_id,
        first_name=body.first_name,
        last_name=body.last_name,
        email=str(body.email) if body.email else None,
        auth_source=body.auth_source,
        password_hash=await _hash(body.password)
        if body.auth_source == AuthSource.local and body.password
        else None,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise AppError(
            409, "login_taken", "Cet identifiant existe déjà.", "This login already exists."
        ) from None
    _audit(
        ctx,
        "staff_created",
        user_id=user.id,
        actor_id=actor.user_id if actor else None,
        source="api" if actor else "cli",
        role=role.value,
        agency=str(body.agency_id) if body.agency_id else None,
    )
    await session.commit()
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
        user.password_hash = await _hash(body.password)
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
    live = (
        (
            await session.execute(
                select(AuthSession.id).where(AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None))
            )
        )
        .scalars()
        .all()
    )
    _audit(ctx, "staff_updated", user_id=user.id, actor_id=actor.user_id, changes=changes)
    await session.commit()
    await session.refresh(user)
    # Role and agency are cached with the session state: drop it so they apply at once.
    await ctx.forget([*revoked, *live])
    return user_out(user)


# --- agencies ----------------------------------------------------------------------------------


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
        await ctx.session.rollback()
        raise _agency_taken() from None
    _audit(ctx, "agency_created", actor_id=actor.user_id, agency=str(agency.id), code=agency.code)
    await ctx.session.commit()
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
    if "is_active" in fields and body.is_active is not None:
        agency.is_active = body.is_active
    try:
        await ctx.session.flush()
    except IntegrityError:
        await ctx.session.rollback()
        raise _agency_taken() from None
    _audit(ctx, "agency_updated", actor_id=actor.user_id, agency=str(agency.id), changes=sorted(fields))
    await ctx.session.commit()
    await ctx.session.refresh(agency)
    return agency


# --- audit -------------------------------------------------------------------------------------


async def list_audit(
    ctx: Ctx,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
    user_id: uuid.UUID | None,
    event: str | None,
) -> tuple[list[AuditEvent], tuple[datetime, uuid.UUID] | None]:
    rows = await repo.list_audit(ctx.session, limit=limit, after=after, user_id=user_id, event=event)
    nxt = (rows[limit - 1].at, rows[limit - 1].id) if len(rows) > limit else None
    return list(rows[:limit]), nxt
