"""Delivery pipeline: outbox relay → fan-out over device keyset pages → batched pushes.

* The notification and its outbox row are committed together. :func:`relay` publishes unpublished
  outbox rows to RabbitMQ (rows locked ``FOR UPDATE SKIP LOCKED``, marked published in the same
  transaction after the broker confirmed): called right after commit and by a beat task every few
  seconds, so a crash or a broker outage between commit and publish only delays delivery.
* ``fanout(nid, None)`` first records on the notification how many pushable devices the target has
  (``targeted_devices``, one COUNT over the same source), so the delivery stats are truthful before
  any batch ran. ``fanout(nid, after)`` walks the target's pushable devices by id (``ix_devices_pushable``) and
  enqueues ``send_batch(nid, after, upto)``: id ranges, never token lists. It re-enqueues itself
  after a bounded number of pages so no task runs long.
* ``send_batch`` inserts one ``notification_deliveries`` row per (notification, device) (primary
  key: a redelivered task never creates a second), claims the ``pending`` ones, pushes them, and
  records the outcome. Rows a dead worker left ``sending`` are reclaimed when RabbitMQ redelivers
  the task (at-least-once; the message carries the notification id as collapse key so the phone
  shows it once). Each batch the fan-out enqueues is recorded (``notification_batches``) and marked
  finished by the batch, so the stats know when nothing is left, even when devices signed out
  between the audience count and their batch.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import structlog
from celery import Celery
from redis.asyncio import Redis
from redis.exceptions import RedisError

from samaconso.kit.db import Database
from samaconso.kit.sinks import JsonlSink
from samaconso.notifications import repository as repo
from samaconso.notifications.fcm import FcmSender, PushMessage, SendResult
from samaconso.notifications.models import DeliveryStatus, Notification
from samaconso.settings import Settings

log = structlog.get_logger(__name__)

FANOUT_TASK = "samaconso.notifications.tasks.fanout"
SEND_BATCH_TASK = "samaconso.notifications.tasks.send_batch"
RELAY_TASK = "samaconso.notifications.tasks.relay_outbox"
REALTIME_CHANNEL = "samaconso:notifications"

PAGE_SIZE = 1000  # devices per send_batch task
PAGES_PER_FANOUT = 40  # then the fan-out task re-enqueues itself with its cursor
RELAY_BATCH = 200


class Pusher(Protocol):
    async def send(self, message: PushMessage) -> SendResult: ...

    async def send_many(
        self,
        messages: Sequence[PushMessage],
        on_result: Callable[[int, SendResult], None] | None = None,
    ) -> list[SendResult]: ...

    async def aclose(self) -> None: ...


class FilePusher:
    """Embedded profile: pushes are appended to ``outbox/push.jsonl`` (and echoed on the console on a
    developer's machine, like SMS codes)."""

    def __init__(self, settings: Settings) -> None:
        self.sink = JsonlSink(settings.outbox_dir, "push", echo=settings.profile == "embedded")

    async def send(self, message: PushMessage) -> SendResult:
        self.sink.write(message.to_fcm())
        return SendResult("sent")

    async def send_many(
        self,
        messages: Sequence[PushMessage],
        on_result: Callable[[int, SendResult], None] | None = None,
    ) -> list[SendResult]:
        results = []
        for i, message in enumerate(messages):
            results.append(await self.send(message))
            if on_result is not None:
                on_result(i, results[-1])
        return results

    async def aclose(self) -> None:
        return None


def make_pusher(settings: Settings) -> Pusher:
    return FcmSender(settings) if settings.push_backend == "fcm" else FilePusher(settings)


# --- outbox relay -------------------------------------------------------------------------------


def _publish(celery: Celery, jobs: Sequence[tuple[uuid.UUID, str]]) -> None:
    for nid, queue in jobs:
        celery.send_task(FANOUT_TASK, args=[str(nid), None], queue=queue, routing_key=queue)


async def relay(
    db: Database,
    celery: Celery,
    *,
    notification_ids: Sequence[uuid.UUID] | None = None,
    older_than_s: float = 0.0,
) -> int:
    """Publish unpublished outbox rows (the given ones, or every one older than ``older_than_s``).

    Returns how many were published; a broker error leaves them for the next attempt."""
    published = 0
    while True:
        async with db.sessionmaker() as session, session.begin():
            jobs = await repo.lock_unpublished(session, notification_ids, older_than_s, RELAY_BATCH)
            if not jobs:
                return published
            try:
                await asyncio.to_thread(_publish, celery, [(j.notification_id, j.queue) for j in jobs])
            except Exception as exc:  # broker unreachable: keep the rows, retry later
                log.warning("outbox_publish_failed", error=type(exc).__name__, pending=len(jobs))
                await session.rollback()
                return published
            await repo.mark_published(session, [j.id for j in jobs])
            published += len(jobs)
        if notification_ids is not None:
            return published


# --- fan-out ------------------------------------------------------------------------------------


def realtime_payload(n: Notification, audiences: list[str]) -> dict[str, Any]:
    return {
        "id": str(n.id),
        "audiences": audiences,
        "type": n.type,
        "priority": n.priority,
        "title": {"fr": n.title_fr, "en": n.title_en},
        "body": {"fr": n.body_fr, "en": n.body_en},
        "data": n.data,
        "created_at": n.created_at.isoformat(),
    }


async def fanout(
    db: Database, redis: Redis, celery: Celery, nid: uuid.UUID, after: uuid.UUID | None, queue: str
) -> None:
    async with db.sessionmaker() as session:
        n = await session.get(Notification, nid)
        if n is None:
            return
        if n.withdrawn_at is not None:  # withdrawn by staff: no further batch
            async with db.sessionmaker.begin() as marking:
                await repo.mark_fanout_done(marking, nid)
            return
        if after is None:  # first step: tell the open app sessions (WebSocket), whichever API holds them
            payload = realtime_payload(n, await repo.audiences_of(session, nid))
            try:
                await redis.publish(REALTIME_CHANNEL, json.dumps(payload, default=str))
            except (RedisError, OSError) as exc:
                log.warning("realtime_publish_failed", error=type(exc).__name__)
            if n.targeted_devices is None:
                # Committed before any batch is enqueued: the stats know the audience size from
                # the first moment a device can be served (pending = targeted - finished).
                targeted = await repo.count_pushable(session, n)
                async with db.sessionmaker.begin() as marking:
                    await repo.mark_fanout_started(marking, nid, targeted)
        cursor = after
        batches: list[tuple[str | None, str]] = []
        done = False
        for _ in range(PAGES_PER_FANOUT):
            ids = await repo.device_page(session, n, cursor, PAGE_SIZE)
            if not ids:
                done = True
                break
            batches.append((str(cursor) if cursor else None, str(ids[-1])))
            cursor = ids[-1]
            if len(ids) < PAGE_SIZE:
                done = True
                break

    def publish() -> None:
        for start, upto in batches:
            celery.send_task(SEND_BATCH_TASK, args=[str(nid), start, upto], queue=queue, routing_key=queue)
        if not done:
            celery.send_task(FANOUT_TASK, args=[str(nid), str(cursor)], queue=queue, routing_key=queue)

    # The batch rows are committed only after the broker took the tasks: a crash in between leaves
    # no row without a task (the redelivered step re-records them; a batch upserts its own row).
    async with db.sessionmaker() as session, session.begin():
        await repo.record_batches(session, nid, [uuid.UUID(upto) for _, upto in batches])
        await asyncio.to_thread(publish)
        if done:
            await repo.mark_fanout_done(session, nid)


def _message(n: Notification, token: str, language: str = "fr") -> PushMessage:
    return PushMessage(
        token=token,
        title=n.title_en if language == "en" else n.title_fr,
        body=n.body_en if language == "en" else n.body_fr,
        data={str(k): str(v) for k, v in (n.data or {}).items()},
        priority=n.priority,
        collapse_id=str(n.id),
    )


FLUSH_EVERY_S = 0.05  # outcomes are recorded at least this often: a killed worker re-sends little


async def send_batch(
    db: Database,
    pusher: Pusher,
    nid: uuid.UUID,
    after: uuid.UUID | None,
    upto: uuid.UUID,
    *,
    redelivered: bool,
) -> dict[str, int]:
    async with db.sessionmaker() as session, session.begin():
        n = await session.get(Notification, nid)
        if n is None:
            return {}
        # A withdrawn notification claims nothing more (its batch just ends).
        claimed = (
            []
            if n.withdrawn_at is not None
            else await repo.claim_batch(session, n, after, upto, reclaim=redelivered)
        )
    totals = {"sent": 0, "dead": 0, "failed": 0}

    async def finished() -> dict[str, int]:
        async with db.sessionmaker() as session, session.begin():
            await repo.finish_batch(session, nid, upto)
        return totals

    if not claimed:
        return await finished()
    done: list[tuple[uuid.UUID, SendResult]] = []

    async def flush() -> None:
        batch = done[:]
        del done[: len(batch)]
        if not batch:
            return
        sent = [d for d, r in batch if r.outcome == "sent"]
        dead = [d for d, r in batch if r.outcome == "dead"]
        async with db.sessionmaker() as session, session.begin():
            await repo.set_delivery_status(session, nid, sent, DeliveryStatus.sent, None)
            await repo.set_delivery_status(session, nid, dead, DeliveryStatus.dead, "UNREGISTERED")
            for dev, res in batch:
                if res.outcome == "failed":
                    await repo.set_delivery_status(session, nid, [dev], DeliveryStatus.failed, res.error)
            await repo.deactivate_tokens(session, dead)
        for _, res in batch:
            totals[res.outcome] += 1

    models = {lang: _message(n, "", lang) for lang in {lang for _, _, lang in claimed}}
    messages = [
        PushMessage(tok, m.title, m.body, m.data, m.priority, m.collapse_id)
        for _, tok, lang in claimed
        for m in (models[lang],)
    ]
    sending = asyncio.ensure_future(
        pusher.send_many(messages, lambda i, res: done.append((claimed[i][0], res)))
    )
    while not sending.done():
        await asyncio.wait({sending}, timeout=FLUSH_EVERY_S)
        await flush()
    await flush()  # what ended while the last flush was writing
    sending.result()
    return await finished()
