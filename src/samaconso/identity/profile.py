"""The signed-in user's own profile: read, edit, avatar, and erasing it when the account closes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import filetype
import structlog
from sqlalchemy import func

from samaconso.identity import repository as repo
from samaconso.identity.audit import record_event
from samaconso.identity.context import Ctx
from samaconso.identity.models import (
    User,
)
from samaconso.identity.principal import Principal
from samaconso.identity.schemas import (
    MePatch,
    UserOut,
)
from samaconso.kit.errors import AppError, not_found, unavailable
from samaconso.kit.storage import Storage, StorageError
from samaconso.kit.transaction import after_commit

log = structlog.get_logger(__name__)


AVATAR_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


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


async def active_me(ctx: Ctx, principal: Principal, *, lock: bool = False) -> User:
    user = await repo.user_by_id(ctx.session, principal.user_id, lock=lock)
    if user is None or not user.is_active:
        raise not_found()
    return user


async def get_me(ctx: Ctx, principal: Principal) -> UserOut:
    return user_out(await active_me(ctx, principal))


async def patch_me(ctx: Ctx, principal: Principal, body: MePatch) -> UserOut:
    user = await active_me(ctx, principal, lock=True)
    fields = body.model_fields_set
    if "first_name" in fields and body.first_name is not None:
        user.first_name = body.first_name
    if "last_name" in fields and body.last_name is not None:
        user.last_name = body.last_name
    if "email" in fields:
        user.email = str(body.email) if body.email else None
    if "language" in fields and body.language is not None:
        user.language = body.language
    await ctx.session.flush()
    await ctx.session.refresh(user)
    if "language" in fields:
        ctx.forget_after_commit([principal.session_id])  # the cached principal carries the language
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
    user = await active_me(ctx, principal, lock=True)
    old_key = user.avatar_key
    key = f"{user.id}/{uuid.uuid4().hex}.{AVATAR_TYPES[mime]}"
    try:
        await storage.put(ctx.settings.s3_bucket_avatars, key, data, mime, {"user": str(user.id)})
    except StorageError as exc:
        raise unavailable("storage", 30) from exc
    user.avatar_key = key
    await ctx.session.flush()
    await ctx.session.refresh(user)
    if old_key:
        _delete_avatar_after_commit(ctx, storage, old_key, "avatar_old_not_deleted")
    return user_out(user)


def _delete_avatar_after_commit(ctx: Ctx, storage: Storage, key: str, failure_event: str) -> None:
    """The replaced or erased picture leaves S3 only once the new state is committed."""
    bucket = ctx.settings.s3_bucket_avatars

    async def delete_object() -> None:
        try:
            await storage.delete(bucket, key)
        except StorageError:
            log.warning(failure_event)

    after_commit(ctx.session, delete_object)


async def get_avatar(ctx: Ctx, principal: Principal) -> tuple[bytes, str]:
    user = await active_me(ctx, principal)
    if not user.avatar_key:
        raise not_found("Aucune photo de profil.", "No profile picture.")
    try:
        return await _storage(ctx).get(ctx.settings.s3_bucket_avatars, user.avatar_key)
    except StorageError as exc:
        raise unavailable("storage", 30) from exc


@dataclass(frozen=True)
class ErasedAccount:
    user_id: uuid.UUID


async def erase_account(ctx: Ctx, principal: Principal) -> ErasedAccount:
    """The identity part of closing an account (the whole flow is ``flows/account_closure.py``):
    deactivated, personal data erased, sessions and devices signed out, codes forgotten, picture
    deleted once committed. The row stays (audit trail and foreign keys) but says nothing about anyone."""
    session = ctx.session
    user = await active_me(ctx, principal, lock=True)
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
    await repo.sign_out_all_devices(session, user.id, "account_deleted")
    if old_phone:
        await repo.delete_otps_of_phone(session, old_phone)
    revoked = await repo.revoke_sessions(session, "account_deleted", user_id=user.id)
    record_event(ctx, "account_deleted", user_id=user.id, actor_id=user.id)
    ctx.forget_after_commit([*revoked, principal.session_id])
    if old_avatar and ctx.storage is not None:
        _delete_avatar_after_commit(ctx, ctx.storage, old_avatar, "avatar_not_erased")
    return ErasedAccount(user_id=user.id)
