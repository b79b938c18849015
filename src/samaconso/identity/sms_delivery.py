"""How an OTP message leaves the API without ever being lost silently.

Decision (documented in the README): with the ``file`` backend (embedded profile, tests) the
message is written inline: the sink is local, cannot be "down", and a newcomer sees the code on the
console at once. With the ``orange`` backend the message is published to the ``urgent`` queue
(task ``samaconso.identity.tasks.send_sms``, expiring with the code); when the broker cannot take
it within a few seconds, the API calls the gateway itself (same client, same timeouts). When both
fail, the caller gets 503 and the code is withdrawn, so nothing is half-done.
"""

from __future__ import annotations

from typing import Any

import anyio
import structlog

from samaconso.identity.sms import SmsError, make_sender
from samaconso.identity.sms_sealing import seal_sms
from samaconso.settings import Settings
from samaconso.worker import celery_app

log = structlog.get_logger(__name__)

PUBLISH_TIMEOUT_S = 3.0
# Published by name: the task module (an entry point) imports this one, never the other way round.
SEND_SMS_TASK = "samaconso.identity.tasks.send_sms"


def _publish(settings: Settings, phone: str, message: str) -> None:
    with celery_app.connection_for_write(settings.broker_url, connect_timeout=PUBLISH_TIMEOUT_S) as conn:
        conn.ensure_connection(
            max_retries=1, interval_start=0, interval_step=1, timeout=int(PUBLISH_TIMEOUT_S)
        )
        options: dict[str, Any] = {"connection": conn, "retry": False, "expires": settings.otp_ttl_s}
        # Sealed: the code never shows in Flower, task events or AMQP frames (see sms_sealing).
        celery_app.send_task(SEND_SMS_TASK, args=(seal_sms(settings, phone, message),), **options)


def _send_inline(settings: Settings, phone: str, message: str) -> None:
    make_sender(settings).send(phone, message)


async def deliver_sms(settings: Settings, phone: str, message: str) -> str:
    """Hand one SMS over; returns how (``inline`` or ``queued``). Raises SmsError when impossible."""
    if settings.sms_backend == "file":
        await anyio.to_thread.run_sync(_send_inline, settings, phone, message)
        return "inline"
    try:
        with anyio.fail_after(PUBLISH_TIMEOUT_S * 2):
            await anyio.to_thread.run_sync(_publish, settings, phone, message, abandon_on_cancel=True)
        return "queued"
    except Exception as exc:  # broker down, refused, timed out: fall back to a direct call
        log.warning("sms_queue_unavailable_sending_inline", error=type(exc).__name__)
    try:
        with anyio.fail_after(settings.sms_timeout_s * 2 + 1):
            await anyio.to_thread.run_sync(_send_inline, settings, phone, message, abandon_on_cancel=True)
    except TimeoutError as exc:
        raise SmsError("gateway timed out") from exc
    return "inline"
