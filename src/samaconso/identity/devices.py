"""Devices (phones) of a user: registration, the 2-device limit, sign-outs (limit, idle, removed)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import structlog
from sqlalchemy import func

from samaconso.identity import repository as repo
from samaconso.identity.audit import record_event
from samaconso.identity.context import Ctx, tell_user
from samaconso.identity.models import (
    Device,
    Role,
    User,
)
from samaconso.identity.principal import Principal
from samaconso.identity.profile import active_me
from samaconso.identity.schemas import (
    DeviceIn,
    DeviceOut,
    LoginRequest,
    SignupRequest,
)
from samaconso.kit.errors import not_found
from samaconso.kit.security import (
    token_digest,
)

log = structlog.get_logger(__name__)


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
            notification = await tell_user(
                ctx,
                user_id,
                "device_signed_out",
                (texts[0], texts[1].format(model=label), texts[2], texts[3].format(model=label)),
                {"device_id": str(device.id), "reason": reason},
            )
        record_event(
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
            await repo.lock_key(session, f"fcm:{digest}")
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
        record_event(
            ctx, "device_registered", user_id=user.id, device=str(device.id), model=model, platform=platform
        )
    return device, revoked


async def device_from(
    ctx: Ctx, user: User, body: SignupRequest | LoginRequest
) -> tuple[Device | None, list[uuid.UUID]]:
    """The device a sign-up or login names (registered or refreshed), and the sessions it displaced."""
    if not body.device_id:
        return None, []
    return await _attach_device(
        ctx, user, body.device_id, fcm_token=body.fcm_token, model=body.device_model, platform=body.platform
    )


async def register_device(ctx: Ctx, principal: Principal, body: DeviceIn) -> DeviceOut:
    session = ctx.session
    user = await active_me(ctx, principal, lock=True)
    device, revoked = await _attach_device(
        ctx, user, body.device_id, fcm_token=body.fcm_token, model=body.model, platform=body.platform
    )
    await repo.set_session_device(session, principal.session_id, device.id)
    await session.flush()
    await session.refresh(device)
    ctx.forget_after_commit(revoked)
    return device_out(device, device.id)


async def _current_device(ctx: Ctx, principal: Principal) -> uuid.UUID | None:
    return await repo.device_of_session(ctx.session, principal.session_id)


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
    record_event(ctx, "device_removed", user_id=principal.user_id, device=str(device.id))
    ctx.forget_after_commit(revoked)


async def sign_out_idle_devices(ctx: Ctx, batch: int = 500) -> int:
    """Sign out one batch of devices unused for ``device_idle_days`` (periodic task, which calls it
    in one transaction per batch until it returns less than ``batch``). Returns how many."""
    idle = timedelta(days=ctx.settings.device_idle_days)
    devices = await repo.idle_devices(ctx.session, idle, batch)
    revoked: list[uuid.UUID] = []
    by_user: dict[uuid.UUID, list[Device]] = {}
    for device in devices:
        by_user.setdefault(device.user_id, []).append(device)
    for user_id, owned in by_user.items():
        revoked += await _sign_out_devices(ctx, user_id, owned, "idle")
    ctx.forget_after_commit(revoked)
    return len(devices)
