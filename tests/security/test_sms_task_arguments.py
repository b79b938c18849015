"""Point 10: one-time codes do not travel as readable Celery task arguments."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from httpx import AsyncClient
from kombu import Connection

from samaconso.settings import Settings
from tests.identity.helpers import API, new_phone
from tests.identity.sms_standin import SmsGateway
from tests.identity.test_sms import _purge_urgent, gateway, orange, settings_overrides

__all__ = ["gateway", "orange", "settings_overrides"]


async def test_queued_sms_shows_neither_code_nor_phone(
    client: AsyncClient, orange: Settings, gateway: SmsGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    from samaconso.identity import tasks
    from samaconso.identity.tasks import send_sms

    monkeypatch.setattr(tasks, "get_settings", lambda: orange)  # the worker's settings are this test's

    _purge_urgent(orange.broker_url)
    phone = new_phone()
    response = await client.post(f"{API}/auth/otp", json={"phone": phone, "purpose": "signup"})
    assert response.status_code == 202
    with Connection(orange.broker_url) as conn:
        channel: Any = conn.channel()  # kombu's channel types stop at StdChannel
        message = channel.basic_get(queue="urgent", no_ack=True)
    assert message is not None
    body = message.body if isinstance(message.body, str) else message.body.decode()
    wire = body + json.dumps(message.headers, default=str)
    assert phone not in wire
    assert phone.lstrip("+") not in wire
    args, kwargs, _ = json.loads(message.body)
    send_sms.apply(args=args, kwargs=kwargs).get()  # the worker opens it and sends
    assert [c.telephone for c in gateway.calls] == [phone.lstrip("+")]
    code = re.search(r"\b(\d{6})\b", gateway.calls[0].message)
    assert code is not None
    standalone = rf"(?<![A-Za-z0-9_-]){code.group(1)}(?![A-Za-z0-9_-])"
    assert not re.search(standalone, wire), "the code is readable on the wire"
    assert "SamaConso" not in wire  # nor the text around it


def test_altered_sealed_sms_is_not_sent(
    orange: Settings, gateway: SmsGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    from samaconso.identity import tasks
    from samaconso.identity.sms_sealing import seal_sms
    from samaconso.identity.tasks import send_sms

    monkeypatch.setattr(tasks, "get_settings", lambda: orange)

    sealed = seal_sms(orange, "+221770000000", "SamaConso : votre code est 123456")
    altered = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    send_sms.apply(args=(altered,)).get()
    assert gateway.calls == []
