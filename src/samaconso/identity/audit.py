"""The security audit trail: every identity story records its events here; admins list them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import structlog

from samaconso.identity import repository as repo
from samaconso.identity.context import Ctx
from samaconso.identity.models import (
    AuditEvent,
)

log = structlog.get_logger(__name__)


def record_event(
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
