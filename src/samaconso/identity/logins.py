"""Customer (PIN) and staff (password or directory) logins, failure counting and lockouts."""

from __future__ import annotations

import uuid
from datetime import timedelta

import structlog

from samaconso.identity import ldap as ldap_auth
from samaconso.identity import lockouts
from samaconso.identity import repository as repo
from samaconso.identity.audit import record_event
from samaconso.identity.context import Ctx, check_secret, check_secret_and_update, limit_per_ip, seconds_until
from samaconso.identity.devices import device_from
from samaconso.identity.models import (
    AuthSource,
    Role,
    User,
)
from samaconso.identity.phones import mask_phone
from samaconso.identity.schemas import (
    LoginRequest,
)
from samaconso.identity.sessions import Issued, open_session
from samaconso.identity.weak_secrets import (
    password_change_required_error,
    pin_change_required_error,
    pin_is_weak,
    staff_password_problem,
)
from samaconso.kit.errors import AppError, unavailable
from samaconso.kit.outbound import CircuitOpenError
from samaconso.kit.transaction import record_now

log = structlog.get_logger(__name__)


LOGIN_IP_LIMIT = (30, 60)  # login attempts (customer or staff) per IP per minute


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


async def check_lock(ctx: Ctx, user: User) -> None:
    if user.locked_until is None:
        return
    now = await repo.db_now(ctx.session)
    if user.locked_until > now:
        retry = seconds_until(user.locked_until, now)
        raise _locked(retry)


async def count_failure(ctx: Ctx, user: User, kind: str, error: AppError) -> AppError:
    """Record one wrong PIN/password; lock the account at the threshold, longer for each lockout of
    the last 24 h (see ``lockouts``). Recorded at once (``record_now``). Returns the error to raise
    (423 when this failure locked the account)."""
    settings = ctx.settings
    user.failed_attempts += 1
    if user.failed_attempts >= settings.pin_max_failures:
        user.failed_attempts = 0
        previous = await repo.lockouts_since(ctx.session, user.id, lockouts.ESCALATION_WINDOW)
        seconds = lockouts.lockout_seconds(settings, previous)
        now = await repo.db_now(ctx.session)
        user.locked_until = now + timedelta(seconds=seconds)
        record_event(ctx, f"{kind}_failed", user_id=user.id)
        record_event(ctx, "lockout", user_id=user.id, seconds=seconds)
        await record_now(ctx.session)
        return _locked(seconds)
    record_event(ctx, f"{kind}_failed", user_id=user.id, attempts=user.failed_attempts)
    await record_now(ctx.session)
    return error


async def _phantom_failure(ctx: Ctx, key: str) -> AppError:
    """A number or staff login without an account behaves like one that has: same count of tries
    before "locked", same lockout lengths and ``Retry-After`` (see ``lockouts``), so a lockout
    never tells that an account exists."""
    if ctx.limiter is None:
        return _invalid_credentials()
    seconds = await lockouts.phantom_failure(ctx.limiter, ctx.settings, key)
    return _invalid_credentials() if seconds is None else _locked(seconds)


async def _agency_open(ctx: Ctx, user: User) -> bool:
    """Agents work for an open agency only (administrators are not bound to one)."""
    if user.role != Role.agent or user.agency_id is None:
        return True
    agency = await repo.agency_by_id(ctx.session, user.agency_id)
    return agency is not None and agency.is_active


async def login(ctx: Ctx, body: LoginRequest) -> tuple[Issued, list[uuid.UUID]]:
    await limit_per_ip(ctx, "login-ip", LOGIN_IP_LIMIT)
    session = ctx.session
    user = await repo.customer_by_phone(session, body.phone, lock=True)
    if user is None or not user.is_active or user.pin_hash is None:
        await check_secret(None, body.pin)  # same cost as a real check: no account enumeration by timing
        record_event(
            ctx,
            "login_failed",
            user_id=user.id if user else None,
            phone=mask_phone(body.phone),
            reason="unknown" if user is None else "inactive",
        )
        await record_now(session)
        raise await _phantom_failure(ctx, f"pin-fail:{body.phone}")
    # hashed before the lock check: a locked account costs one hash, like an unknown number
    checked = await check_secret_and_update(user.pin_hash, body.pin)
    await check_lock(ctx, user)
    if not checked.ok:
        raise await count_failure(ctx, user, "login", _invalid_credentials())
    weak = pin_is_weak(body.pin)
    if weak and not checked.was_legacy:  # a weak v2 PIN that already had its one sign-in
        record_event(ctx, "login_refused", user_id=user.id, reason="pin_change_required")
        await record_now(session)
        raise pin_change_required_error()
    if checked.new_hash:  # verify-and-update: a v2 bcrypt hash becomes Argon2id at the first success
        user.pin_hash = checked.new_hash
    user.failed_attempts = 0
    user.locked_until = None
    device, revoked = await device_from(ctx, user, body)
    issued = await open_session(ctx, user, device)
    issued.pair.pin_change_required = weak
    record_event(
        ctx,
        "login_ok",
        user_id=user.id,
        session=str(issued.session_id),
        device=str(device.id) if device else None,
    )
    ctx.forget_after_commit(revoked)
    return issued, revoked


async def staff_login(ctx: Ctx, login_name: str, password: str) -> Issued:
    await limit_per_ip(ctx, "login-ip", LOGIN_IP_LIMIT)
    session = ctx.session
    user = await repo.staff_by_login(session, login_name.strip(), lock=True)
    if user is not None and user.is_active and not await _agency_open(ctx, user):
        user = None  # an agent of a closed agency: refused exactly like an unknown login
    if user is None or not user.is_active:
        await check_secret(None, password)
        record_event(
            ctx,
            "staff_login_failed",
            user_id=user.id if user else None,
            reason="unknown" if user is None else "inactive",
        )
        await record_now(session)
        raise await _phantom_failure(ctx, f"staff-fail:{login_name.strip().lower()}")
    # one hash on every path (a directory account has no local hash: the same cost as an unknown
    # login), before the lock check, so neither a lockout nor the account's kind shows in the timing
    checked = await check_secret_and_update(
        user.password_hash if user.auth_source != AuthSource.ldap else None, password
    )
    await check_lock(ctx, user)
    if user.auth_source == AuthSource.ldap:
        if not ctx.settings.ldap_enabled or ctx.directory is None:
            raise unavailable("ldap", 60)
        try:
            ok = await ctx.directory.check_password(user.login or "", password)
        except CircuitOpenError as exc:
            raise unavailable("ldap", int(exc.retry_after_s)) from exc
        except (ldap_auth.DirectoryUnavailable, TimeoutError) as exc:
            raise unavailable("ldap", 30) from exc
        weak = False
    else:
        ok = checked.ok
        weak = ok and staff_password_problem(password)
        if weak and not checked.was_legacy:  # a weak v2 password that already had its one sign-in
            record_event(ctx, "staff_login_refused", user_id=user.id, reason="password_change_required")
            await record_now(session)
            raise password_change_required_error()
        if checked.new_hash:
            user.password_hash = checked.new_hash
    if not ok:
        raise await count_failure(ctx, user, "staff_login", _invalid_credentials())
    user.failed_attempts = 0
    user.locked_until = None
    issued = await open_session(ctx, user, None)
    issued.pair.password_change_required = weak
    record_event(
        ctx, "staff_login_ok", user_id=user.id, session=str(issued.session_id), method=user.auth_source.value
    )
    return issued
