"""The call context every identity story shares: session, settings, rate limits, secret hashing,
the callbacks its callers provide (forget cached sessions, notify a user)."""

from __future__ import annotations

import math
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import anyio
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.identity.ldap import Directory
from samaconso.kit.notify import Notify
from samaconso.kit.ratelimit import RateLimiter
from samaconso.kit.security import (
    Verified,
    hash_secret,
    verify_and_update,
    verify_secret,
)
from samaconso.kit.storage import Storage
from samaconso.kit.transaction import after_commit
from samaconso.settings import Settings

log = structlog.get_logger(__name__)


Forget = Callable[[Sequence[uuid.UUID]], Awaitable[None]]


async def _forget_nothing(_: Sequence[uuid.UUID]) -> None:
    return None


@dataclass
class Ctx:
    """What a service call needs from its caller (the router, a task or the CLI).

    ``forget`` drops cached session state (Redis); ``notify`` writes a notification for a user in
    this session (``notifications.service.notify_user``, passed by the entry point: identity never
    imports the notifications domain, which reads identity's devices)."""

    session: AsyncSession
    settings: Settings
    limiter: RateLimiter | None = None
    storage: Storage | None = None
    ip: str | None = None
    user_agent: str | None = None
    forget: Forget = field(default=_forget_nothing)
    notify: Notify | None = None
    directory: Directory | None = None

    def forget_after_commit(self, session_ids: Sequence[uuid.UUID]) -> None:
        """Drop the cached state of these sessions once the revocation is committed."""
        ids = list(session_ids)
        if not ids:
            return
        forget = self.forget

        async def drop() -> None:
            await forget(ids)

        after_commit(self.session, drop)


async def limit_per_ip(ctx: Ctx, name: str, rule: tuple[int, int], *, critical: bool = True) -> None:
    """Per-IP limit. Identity limits protect accounts or send SMS: they fail closed (503)."""
    if ctx.limiter is not None and ctx.ip:
        await ctx.limiter.check(f"{name}:{ctx.ip}", rule[0], rule[1], critical=critical)


def seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


async def check_secret(stored_hash: str | None, secret: str) -> bool:
    return await anyio.to_thread.run_sync(verify_secret, stored_hash, secret)


async def check_secret_and_update(stored_hash: str | None, secret: str) -> Verified:
    """Like :func:`check_secret`, and says which hash to store now (a v2 bcrypt one → Argon2id)."""
    return await anyio.to_thread.run_sync(verify_and_update, stored_hash, secret)


async def hash_new_secret(secret: str) -> str:
    return await anyio.to_thread.run_sync(hash_secret, secret)


async def tell_user(
    ctx: Ctx,
    user_id: uuid.UUID,
    kind: str,
    texts: tuple[str, str, str, str],
    data: dict[str, str],
) -> uuid.UUID:
    """Tell the user through the notifications domain, in the caller's transaction (outbox)."""
    if ctx.notify is None:
        raise RuntimeError("identity.Ctx.notify is not wired by this caller")
    return await ctx.notify(
        ctx.session,
        user_id=user_id,
        type=kind,
        title_fr=texts[0],
        body_fr=texts[1],
        title_en=texts[2],
        body_en=texts[3],
        data=data,
    )
