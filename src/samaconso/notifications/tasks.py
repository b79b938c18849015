"""Celery entry points of the notifications domain (thin: they call the pipeline).

Every task is published with an explicit queue: the notification's priority decides it
(outage → urgent, a person's transactional message → high_priority, default → normal,
campaigns/broadcasts → low_priority). The relay runs on ``urgent`` so an outage never waits
behind a campaign.
"""

from __future__ import annotations

import uuid
from typing import Any

from celery import Task

from samaconso.kit.aio import run_sync
from samaconso.notifications import pipeline
from samaconso.worker import celery_app
from samaconso.worker_wiring import resources


def _uuid(raw: str | None) -> uuid.UUID | None:
    return uuid.UUID(raw) if raw else None


@celery_app.task(name=pipeline.RELAY_TASK, ignore_result=True)
def relay_outbox() -> int:
    """Publish outbox rows the immediate after-commit attempt did not (crash, broker outage)."""
    res = resources()
    return run_sync(pipeline.relay(res.db, celery_app, older_than_s=2.0))


@celery_app.task(name=pipeline.FANOUT_TASK, bind=True, ignore_result=True)
def fanout(self: Task[Any, Any], notification_id: str, after: str | None) -> None:
    res = resources()
    queue = (self.request.delivery_info or {}).get("routing_key") or "normal"
    run_sync(
        pipeline.fanout(res.db, res.cache.redis, celery_app, uuid.UUID(notification_id), _uuid(after), queue)
    )


@celery_app.task(name=pipeline.SEND_BATCH_TASK, bind=True, ignore_result=True)
def send_batch(self: Task[Any, Any], notification_id: str, after: str | None, upto: str) -> dict[str, int]:
    res = resources()
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    return run_sync(
        pipeline.send_batch(
            res.db,
            res.pusher,
            uuid.UUID(notification_id),
            _uuid(after),
            uuid.UUID(upto),
            redelivered=redelivered,
        )
    )
