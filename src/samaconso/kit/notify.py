"""The door through which a lower domain tells a user something without importing notifications.

The notifications domain reads the identity and meters tables (devices, meter links) to reach a
user's phones, so identity and meters cannot import it back. They take a :class:`Notify` instead;
their callers (routers, tasks, seeds: the entry points) pass ``notifications.service.notify_user``.
The notification and its delivery job are written in the caller's session and leave with its commit.
"""

from __future__ import annotations

import uuid
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession


class Notify(Protocol):
    async def __call__(
        self,
        session: AsyncSession,
        *,
        user_id: uuid.UUID,
        type: str,
        title_fr: str,
        body_fr: str,
        title_en: str,
        body_en: str,
        data: dict[str, str] | None = None,
    ) -> uuid.UUID: ...
