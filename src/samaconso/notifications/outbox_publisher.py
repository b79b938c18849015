"""Publish a committed session's outbox rows at once (jobs leave only after commit).

Built at start-up (``samaconso/wiring.py``) for the app's database and attached to that database's
own session class: a commit of one of its sessions that added notifications schedules one relay
of exactly those rows; a rollback forgets them. Nothing here is process-wide, so two apps (or a
test's stand-in publisher) never see each other's commits.
"""

from __future__ import annotations

import asyncio
import uuid

import structlog
from celery import Celery
from sqlalchemy import event
from sqlalchemy.orm import Session

from samaconso.kit.db import Database
from samaconso.notifications.pipeline import relay
from samaconso.notifications.service import OUTBOX_INFO_KEY

log = structlog.get_logger(__name__)


class AfterCommitPublisher:
    def __init__(self, db: Database, celery: Celery) -> None:
        self.db = db
        self.celery = celery
        self.pending: set[asyncio.Task[int]] = set()
        self._attached = False

    def attach(self) -> None:
        if not self._attached:
            event.listen(self.db.session_class, "after_commit", self._after_commit)
            event.listen(self.db.session_class, "after_rollback", self._after_rollback)
            self._attached = True

    def detach(self) -> None:
        if self._attached:
            event.remove(self.db.session_class, "after_commit", self._after_commit)
            event.remove(self.db.session_class, "after_rollback", self._after_rollback)
            self._attached = False

    def _after_commit(self, session: Session) -> None:
        ids: list[uuid.UUID] | None = session.info.pop(OUTBOX_INFO_KEY, None)
        if ids:
            self.publish(ids)

    @staticmethod
    def _after_rollback(session: Session) -> None:
        session.info.pop(OUTBOX_INFO_KEY, None)

    def publish(self, ids: list[uuid.UUID]) -> None:
        """Relay these rows in the background (the answer does not wait for RabbitMQ)."""
        try:
            task = asyncio.get_running_loop().create_task(relay(self.db, self.celery, notification_ids=ids))
        except RuntimeError:  # no loop (sync context): the beat relay will publish them
            return
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def aclose(self, timeout_s: float = 5.0) -> None:
        self.detach()
        if self.pending:
            await asyncio.wait(self.pending, timeout=timeout_s)
