"""SMS: the Orange SOAP client against a local stand-in, the queue path, and the broker-down fallback."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from httpx import AsyncClient
from kombu import Connection
from pydantic import SecretStr

from samaconso.identity.sms import OrangeSmsSender, SmsError
from samaconso.settings import Settings
from tests.identity.helpers import API, new_phone
from tests.identity.sms_standin import SmsGateway, start_gateway


@pytest.fixture(scope="module")
def gateway() -> Iterator[SmsGateway]:
    gw = start_gateway()
    yield gw
    gw.stop()


# Nothing listens on the discard port: connection refused at once, as with a broker that is down.
BROKER_DOWN = "amqp://guest:guest@127.0.0.1:9//"


@pytest.fixture
def settings_overrides(gateway: SmsGateway) -> dict[str, Any]:
    """This module's app sends SMS through the Orange gateway stand-in."""
    return {
        "sms_backend": "orange",
        "sms_orange_wsdl_url": gateway.url,
        "sms_orange_login": "senelec",
        "sms_orange_password": SecretStr("gateway-pass-123"),
        "sms_timeout_s": 1.0,
    }


@pytest.fixture
def orange(settings: Settings, gateway: SmsGateway) -> Settings:
    gateway.calls.clear()
    gateway.fault = None
    gateway.delay_s = 0.0
    assert settings.sms_backend == "orange"
    return settings


def test_orange_client_sends_one_sms(orange: Settings, gateway: SmsGateway) -> None:
    OrangeSmsSender(orange).send("+221771234567", "Code <123456> & merci")
    assert len(gateway.calls) == 1
    call = gateway.calls[0]
    assert call.telephone == "221771234567"
    assert call.message == "Code <123456> & merci"  # escaped on the wire, intact after parsing
    assert (call.login, call.password) == ("senelec", "gateway-pass-123")
    assert "sendOneSMS" in call.soap_action


def test_orange_fault_and_timeout_raise(orange: Settings, gateway: SmsGateway) -> None:
    gateway.fault = "Invalid credentials"
    with pytest.raises(SmsError):
        OrangeSmsSender(orange).send("+221771234567", "x")
    gateway.fault = None
    gateway.delay_s = 2.0
    started = time.monotonic()
    with pytest.raises(SmsError):
        OrangeSmsSender(orange).send("+221771234567", "x")
    assert time.monotonic() - started < 1.9  # the read timeout (1 s) cut it short


def _purge_urgent(url: str) -> None:
    from samaconso.worker import celery_app

    with Connection(url) as conn:
        channel = conn.channel()
        for queue in celery_app.conf.task_queues:
            queue(channel).declare()
        queue = next(q for q in celery_app.conf.task_queues if q.name == "urgent")
        queue(channel).purge()


async def test_code_goes_through_the_urgent_queue(
    client: AsyncClient, orange: Settings, gateway: SmsGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    from samaconso.identity import tasks
    from samaconso.identity.tasks import send_sms

    monkeypatch.setattr(tasks, "get_settings", lambda: orange)  # the worker's settings are this test's

    assert orange.broker_url.startswith("amqp://")
    _purge_urgent(orange.broker_url)
    phone = new_phone()
    response = await client.post(f"{API}/auth/otp", json={"phone": phone, "purpose": "signup"})
    assert response.status_code == 202
    assert gateway.calls == []  # queued, not sent inline
    with Connection(orange.broker_url) as conn:
        channel: Any = conn.channel()  # kombu's channel types stop at StdChannel
        message = channel.basic_get(queue="urgent", no_ack=True)
    assert message is not None
    assert message.headers["task"] == "samaconso.identity.tasks.send_sms"
    assert message.headers["expires"]  # a code that cannot be used any more is not sent
    args, kwargs, _ = json.loads(message.body)
    send_sms.apply(args=args, kwargs=kwargs).get()  # what the worker runs
    assert [c.telephone for c in gateway.calls] == [phone.lstrip("+")]
    assert "code" in gateway.calls[0].message


@pytest.mark.settings(broker_url=BROKER_DOWN)
async def test_broker_down_falls_back_to_direct_send(
    client: AsyncClient, orange: Settings, gateway: SmsGateway
) -> None:
    phone = new_phone()
    started = time.monotonic()
    response = await client.post(f"{API}/auth/otp", json={"phone": phone, "purpose": "signup"})
    assert response.status_code == 202
    assert time.monotonic() - started < 8
    assert [c.telephone for c in gateway.calls] == [phone.lstrip("+")]


@pytest.mark.settings(broker_url=BROKER_DOWN)
async def test_broker_and_gateway_down_is_503_and_code_withdrawn(
    client: AsyncClient, orange: Settings, gateway: SmsGateway
) -> None:
    gateway.fault = "Service unavailable"
    phone = new_phone()
    for _ in range(3):
        response = await client.post(f"{API}/auth/otp", json={"phone": phone, "purpose": "signup"})
        assert response.status_code == 503
        assert int(response.headers["retry-after"]) > 0
    # failed sends did not use up the hourly quota
    gateway.fault = None
    response = await client.post(f"{API}/auth/otp", json={"phone": phone, "purpose": "signup"})
    assert response.status_code == 202
    assert len(gateway.calls) == 1
