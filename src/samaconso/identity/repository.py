"""All SQL of the identity domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.identity.models import (
    Agency,
    AuditEvent,
    AuthSession,
    Device,
    OtpCode,
    OtpPurpose,
    RefreshToken,
    Role,
    User,
)
from samaconso.kit.db import keyset_after


async def db_now(session: AsyncSession) -> datetime:
    return (await session.execute(select(func.now()))).scalar_one()


# --- users -------------------------------------------------------------------------------------


# built once with a bound parameter (it runs on every cache miss of a session's state)
_SESSION_STATE = (
    select(
        User.id,
        User.role,
        User.agency_id,
        User.language,
        User.is_active,
        AuthSession.revoked_at,
        AuthSession.revoked_reason,
        AuthSession.expires_at,
        AuthSession.last_used_at,
        func.now().label("now"),
        Agency.is_active.label("agency_open"),
    )
    .join(AuthSession, AuthSession.user_id == User.id)
    .outerjoin(Agency, Agency.id == User.agency_id)
    .where(AuthSession.id == bindparam("session_id"))
)


async def session_state(session: AsyncSession, session_id: uuid.UUID) -> Any:
    """A session with its user's flags (id, role, agency, language, active), whether the user's
    agency is open, and how it ended (revoked at/why, expiry, the database's now), or None."""
    return (await session.execute(_SESSION_STATE, {"session_id": session_id})).first()


async def end_idle_staff_session(session: AsyncSession, session_id: uuid.UUID, idle_s: int) -> bool:
    """A staff session seen now: ended (``idle``) when unused for ``idle_s`` seconds, else its
    ``last_used_at`` moves to now. True when it has just ended."""
    ended = await session.execute(
        update(AuthSession)
        .where(
            AuthSession.id == session_id,
            AuthSession.revoked_at.is_(None),
            AuthSession.last_used_at <= func.now() - timedelta(seconds=idle_s),
        )
        .values(revoked_at=func.now(), revoked_reason="idle")
        .returning(AuthSession.id)
    )
    if ended.first() is not None:
        return True
    await session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(last_used_at=func.now())
    )
    return False


async def user_by_id(session: AsyncSession, user_id: uuid.UUID, *, lock: bool = False) -> User | None:
    stmt = select(User).where(User.id == user_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def customer_by_phone(session: AsyncSession, phone: str, *, lock: bool = False) -> User | None:
    stmt = select(User).where(User.phone == phone, User.role == Role.customer)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def staff_by_login(session: AsyncSession, login: str, *, lock: bool = False) -> User | None:
    # Logins are stored in lower case (schemas._login, seed), so the unique index on ``login`` serves.
    stmt = select(User).where(User.login == login.lower(), User.role != Role.customer)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def phone_taken(session: AsyncSession, phone: str) -> bool:
    return (await session.execute(select(User.id).where(User.phone == phone))).first() is not None


async def list_staff(
    session: AsyncSession,
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
    role: Role | None,
    agency_id: uuid.UUID | None,
) -> Sequence[User]:
    stmt = select(User).where(User.role.in_([Role.agent, Role.admin]))
    if role is not None:
        stmt = stmt.where(User.role == role)
    if agency_id is not None:
        stmt = stmt.where(User.agency_id == agency_id)
    if after is not None:
        stmt = stmt.where(keyset_after((User.created_at, User.id), after, descending=True))
    stmt = stmt.order_by(User.created_at.desc(), User.id.desc()).limit(limit + 1)
    return (await session.execute(stmt)).scalars().all()


# --- OTP ---------------------------------------------------------------------------------------


async def otp_count_since(session: AsyncSession, phone: str, since: timedelta) -> tuple[int, datetime | None]:
    """How many codes were sent to ``phone`` in the window, and when the oldest of them was sent."""
    row = (
        await session.execute(
            select(func.count(OtpCode.id), func.min(OtpCode.created_at)).where(
                OtpCode.phone == phone, OtpCode.created_at > func.now() - since
            )
        )
    ).one()
    return int(row[0]), row[1]


async def latest_otp(session: AsyncSession, phone: str, purpose: OtpPurpose) -> OtpCode | None:
    stmt = (
        select(OtpCode)
        .where(OtpCode.phone == phone, OtpCode.purpose == purpose)
        .order_by(OtpCode.created_at.desc(), OtpCode.id.desc())
        .limit(1)
        .with_for_update()
    )
    return (await session.execute(stmt)).scalar_one_or_none()


# --- sessions and tokens -----------------------------------------------------------------------


async def refresh_token_by_hash(session: AsyncSession, digest: str) -> RefreshToken | None:
    stmt = select(RefreshToken).where(RefreshToken.token_hash == digest).with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def revoke_sessions(
    session: AsyncSession,
    reason: str,
    *,
    user_id: uuid.UUID | None = None,
    session_ids: Sequence[uuid.UUID] | None = None,
    device_ids: Sequence[uuid.UUID] | None = None,
    except_session: uuid.UUID | None = None,
) -> list[uuid.UUID]:
    """Revoke live sessions matching the criteria; returns their ids (to drop cached state)."""
    conditions: list[Any] = [AuthSession.revoked_at.is_(None)]
    if user_id is not None:
        conditions.append(AuthSession.user_id == user_id)
    if session_ids is not None:
        conditions.append(AuthSession.id.in_(list(session_ids)))
    if device_ids is not None:
        conditions.append(AuthSession.device_id.in_(list(device_ids)))
    if except_session is not None:
        conditions.append(AuthSession.id != except_session)
    if len(conditions) == 1:
        raise ValueError("refusing to revoke every session of the platform")
    result = await session.execute(
        update(AuthSession)
        .where(*conditions)
        .values(revoked_at=func.now(), revoked_reason=reason)
        .returning(AuthSession.id)
    )
    return list(result.scalars().all())


# --- devices -----------------------------------------------------------------------------------


async def device_of_user(session: AsyncSession, user_id: uuid.UUID, device_key: str) -> Device | None:
    stmt = select(Device).where(Device.user_id == user_id, Device.device_id == device_key).with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def device_by_id(session: AsyncSession, user_id: uuid.UUID, device_pk: uuid.UUID) -> Device | None:
    stmt = select(Device).where(Device.id == device_pk, Device.user_id == user_id).with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def release_fcm_token(session: AsyncSession, digest: str, keep: uuid.UUID | None) -> None:
    """One FCM token belongs to one device: take it away from any other device holding it."""
    stmt = update(Device).where(Device.fcm_token_hash == digest).values(fcm_token=None, fcm_token_hash=None)
    if keep is not None:
        stmt = stmt.where(Device.id != keep)
    await session.execute(stmt)


async def active_devices(session: AsyncSession, user_id: uuid.UUID) -> Sequence[Device]:
    stmt = (
        select(Device)
        .where(Device.user_id == user_id, Device.is_active)
        .order_by(Device.last_seen_at.desc(), Device.id)
        .with_for_update()
    )
    return (await session.execute(stmt)).scalars().all()


async def list_devices(
    session: AsyncSession, user_id: uuid.UUID, *, limit: int, after: tuple[datetime, uuid.UUID] | None
) -> Sequence[Device]:
    stmt = select(Device).where(Device.user_id == user_id)
    if after is not None:
        stmt = stmt.where(keyset_after((Device.last_seen_at, Device.id), after, descending=True))
    stmt = stmt.order_by(Device.last_seen_at.desc(), Device.id.desc()).limit(limit + 1)
    return (await session.execute(stmt)).scalars().all()


async def idle_devices(session: AsyncSession, idle: timedelta, batch: int) -> Sequence[Device]:
    stmt = (
        select(Device)
        .where(Device.is_active, Device.last_seen_at < func.now() - idle)
        .order_by(Device.last_seen_at)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(stmt)).scalars().all()


# --- agencies ----------------------------------------------------------------------------------


async def agency_id_by_code(session: AsyncSession, code: str) -> uuid.UUID | None:
    return (await session.execute(select(Agency.id).where(Agency.code == code))).scalar_one_or_none()


async def agency_by_id(session: AsyncSession, agency_id: uuid.UUID) -> Agency | None:
    return (await session.execute(select(Agency).where(Agency.id == agency_id))).scalar_one_or_none()


async def list_agencies(
    session: AsyncSession, *, limit: int, after: str | None, only: uuid.UUID | None
) -> Sequence[Agency]:
    stmt = select(Agency)
    if only is not None:
        stmt = stmt.where(Agency.id == only)
    if after is not None:
        stmt = stmt.where(Agency.code > after)
    stmt = stmt.order_by(Agency.code).limit(limit + 1)
    return (await session.execute(stmt)).scalars().all()


# --- audit -------------------------------------------------------------------------------------


def add_audit(
    session: AsyncSession,
    event: str,
    *,
    user_id: uuid.UUID | None = None,
    actor_id: uuid.UUID | None = None,
    ip: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    session.add(AuditEvent(event=event, user_id=user_id, actor_id=actor_id, ip=ip, details=details or {}))


async def list_audit(
    session: AsyncSession,
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
    user_id: uuid.UUID | None,
    event: str | None,
) -> Sequence[AuditEvent]:
    stmt = select(AuditEvent)
    if user_id is not None:
        stmt = stmt.where(AuditEvent.user_id == user_id)
    if event is not None:
        stmt = stmt.where(AuditEvent.event == event)
    if after is not None:
        stmt = stmt.where(keyset_after((AuditEvent.at, AuditEvent.id), after, descending=True))
    stmt = stmt.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit + 1)
    return (await session.execute(stmt)).scalars().all()


async def lock_key(session: AsyncSession, key: str) -> None:
    """Serialise work on ``key`` until the transaction ends (safe behind PgBouncer)."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": key})


async def delete_otp(session: AsyncSession, otp_id: uuid.UUID) -> None:
    await session.execute(delete(OtpCode).where(OtpCode.id == otp_id))


async def purge_otps(session: AsyncSession, older_than: timedelta) -> int:
    result = await session.execute(delete(OtpCode).where(OtpCode.created_at < func.now() - older_than))
    return int(getattr(result, "rowcount", 0) or 0)


async def delete_otps_of_phone(session: AsyncSession, phone: str) -> None:
    await session.execute(delete(OtpCode).where(OtpCode.phone == phone))


async def session_for_update(session: AsyncSession, session_id: uuid.UUID) -> AuthSession:
    return (
        await session.execute(select(AuthSession).where(AuthSession.id == session_id).with_for_update())
    ).scalar_one()


async def touch_device(session: AsyncSession, device_id: uuid.UUID, now: datetime) -> None:
    await session.execute(
        update(Device).where(Device.id == device_id, Device.is_active).values(last_seen_at=now)
    )


async def set_session_device(session: AsyncSession, session_id: uuid.UUID, device_id: uuid.UUID) -> None:
    await session.execute(update(AuthSession).where(AuthSession.id == session_id).values(device_id=device_id))


async def device_of_session(session: AsyncSession, session_id: uuid.UUID) -> uuid.UUID | None:
    return (
        await session.execute(select(AuthSession.device_id).where(AuthSession.id == session_id))
    ).scalar_one_or_none()


async def login_taken(session: AsyncSession, login: str) -> bool:
    return (await session.execute(select(User.id).where(User.login == login))).first() is not None


async def live_sessions(session: AsyncSession, user_id: uuid.UUID) -> Sequence[uuid.UUID]:
    return (
        (
            await session.execute(
                select(AuthSession.id).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
            )
        )
        .scalars()
        .all()
    )


async def sign_out_all_devices(session: AsyncSession, user_id: uuid.UUID, reason: str) -> None:
    """Every device of the user signed out and its push token dropped (account closure)."""
    await session.execute(
        update(Device)
        .where(Device.user_id == user_id)
        .values(
            is_active=False,
            fcm_token=None,
            fcm_token_hash=None,
            signed_out_at=func.coalesce(Device.signed_out_at, func.now()),
            signed_out_reason=func.coalesce(Device.signed_out_reason, reason),
        )
    )


# --- hardening: lockout escalation, per-requester code quotas ----------------------------------


async def lockouts_since(session: AsyncSession, user_id: uuid.UUID, since: timedelta) -> int:
    """How many times the account was locked in the window (escalating lockouts)."""
    stmt = select(func.count(AuditEvent.id)).where(
        AuditEvent.user_id == user_id, AuditEvent.event == "lockout", AuditEvent.at > func.now() - since
    )
    return int((await session.execute(stmt)).scalar_one())


async def otp_window_stats(
    session: AsyncSession, phone: str, ip: str | None, since: timedelta
) -> tuple[int, int, datetime | None, datetime | None, datetime | None]:
    """Codes sent to ``phone`` in the window: (all, asked from ``ip``, oldest of those from ``ip``,
    oldest of all, latest of all)."""
    from_ip = OtpCode.ip == ip if ip is not None else OtpCode.ip.is_(None)
    row = (
        await session.execute(
            select(
                func.count(OtpCode.id),
                func.count(OtpCode.id).filter(from_ip),
                func.min(OtpCode.created_at).filter(from_ip),
                func.min(OtpCode.created_at),
                func.max(OtpCode.created_at),
            ).where(OtpCode.phone == phone, OtpCode.created_at > func.now() - since)
        )
    ).one()
    return int(row[0]), int(row[1]), row[2], row[3], row[4]


async def agent_ids_of_agency(session: AsyncSession, agency_id: uuid.UUID) -> Sequence[uuid.UUID]:
    stmt = select(User.id).where(User.agency_id == agency_id, User.role == Role.agent)
    return (await session.execute(stmt)).scalars().all()


async def add_missing_agencies(session: AsyncSession, rows: Sequence[dict[str, str]]) -> None:
    """Reference agencies (seed): the codes already present are left as an admin set them."""
    await session.execute(
        pg_insert(Agency).values(list(rows)).on_conflict_do_nothing(index_elements=["code"])
    )
