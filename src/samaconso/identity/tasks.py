"""Celery entry points of the identity domain (thin: the rules are in ``service.py``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import structlog
from celery import Task
from redis.exceptions import RedisError

from samaconso.identity import service
from samaconso.identity.principal import session_cache_key
from samaconso.identity.sms import SmsError, make_sender
from samaconso.identity.sms_delivery import SEND_SMS_TASK
from samaconso.identity.sms_sealing import SealError, open_sms
from samaconso.kit.aio import run_sync
from samaconso.kit.metrics import SMS_MESSAGES, SMS_RETRIES
from samaconso.kit.transaction import unit_of_work
from samaconso.notifications.service import notify_user
from samaconso.settings import get_settings
from samaconso.worker import celery_app
from samaconso.worker_wiring import resources

log = structlog.get_logger(__name__)

IDLE_BATCH = 500


@celery_app.task(
    name=SEND_SMS_TASK,
    bind=True,
    autoretry_for=(SmsError,),
    retry_backoff=5,
    retry_backoff_max=60,
    max_retries=4,
)
def send_sms(self: Task[Any, Any], sealed: str) -> None:
    """Hand one SMS to the configured backend (queue ``urgent``; expires with the code it carries).
    The only argument is the sealed (phone, text) — see ``sms_sealing``. Returns nothing: the
    message text must not land in the result backend."""
    settings = get_settings()
    backend = settings.sms_backend
    try:
        phone, message = open_sms(settings, sealed)
    except SealError:
        log.error("sms_task_unsealable")  # not retried: another key or an altered message
        SMS_MESSAGES.labels(backend, "unsealable").inc()
        return
    try:
        make_sender(settings).send(phone, message)
    except SmsError:
        if self.request.retries >= (self.max_retries or 0):
            SMS_MESSAGES.labels(backend, "failed").inc()  # the last attempt: the code never left
        else:
            SMS_RETRIES.labels(backend).inc()
        raise
    SMS_MESSAGES.labels(backend, "sent").inc()


async def _sign_out_idle() -> int:
    res = resources()
    redis = res.cache.redis

    async def forget(ids: Sequence[uuid.UUID]) -> None:
        if ids:
            try:
                await redis.delete(*(session_cache_key(i) for i in ids))
            except (RedisError, OSError):
                log.warning("session_cache_not_cleared")  # the cache expires within 60 s anyway

    count = 0
    while True:  # one transaction per batch: a long backlog never holds one huge transaction
        async with unit_of_work(res.db.sessionmaker) as session:
            ctx = service.Ctx(session=session, settings=res.settings, forget=forget, notify=notify_user)
            done = await service.sign_out_idle_devices(ctx, IDLE_BATCH)
        count += done
        if done < IDLE_BATCH:
            break
    async with unit_of_work(res.db.sessionmaker) as session:
        purged = await service.purge_old_codes(service.Ctx(session=session, settings=res.settings))
    log.info("identity_housekeeping", idle_devices=count, codes_purged=purged)
    return count


@celery_app.task(name="samaconso.identity.tasks.sign_out_idle_devices")
def sign_out_idle_devices() -> int:
    """Periodic (beat, ``low_priority``): sign out devices unused for ``device_idle_days`` and
    forget one-time codes older than a day."""
    return run_sync(_sign_out_idle())
