"""Log formats: JSON by default (production and every server command), one human line per event for
``samaconso run``; periodic tasks quiet at INFO in both."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import structlog

from samaconso.kit.logging import configure_logging
from samaconso.kit.sinks import echo_line
from samaconso.settings import Settings
from tests.support.services import free_port_block

RELAY = "samaconso.notifications.tasks.relay_outbox"


@pytest.fixture
def restore_logging(settings: Settings) -> Iterator[None]:
    yield
    configure_logging(settings.log_level, settings.log_json, process=settings.instance_name)


def _task_record(logger: str, name: str, level: int = logging.INFO) -> None:
    args = {"id": "abc", "name": name, "runtime": 0.01, "return_value": 0, "args": "()", "kwargs": "{}"}
    logging.getLogger(logger).log(
        level, "Task %(name)s[%(id)s] succeeded in %(runtime)ss: %(return_value)s", args
    )


def test_json_is_the_default_of_the_server_commands(settings: Settings) -> None:
    """``samaconso api`` started without any log setting writes JSON lines."""
    port = free_port_block(1, 30000, 34000)
    env = {k: v for k, v in os.environ.items() if k != "SAMACONSO_LOG_JSON"}
    env["SAMACONSO_S3_ENDPOINT_URL"] = settings.s3_endpoint_url
    proc = subprocess.Popen(
        [sys.executable, "-m", "samaconso.cli", "api", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            raw = proc.stdout.readline()
            if not raw:
                break
            lines.append(raw.decode().rstrip("\n"))
            if "api_started" in lines[-1]:
                break
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    started = [line for line in lines if "api_started" in line]
    assert started, "\n".join(lines)
    record = json.loads(started[0])
    assert record["event"] == "api_started"
    assert record["level"] == "info"
    assert "timestamp" in record
    assert Settings.model_fields["log_json"].default is True


def test_human_lines_for_people(capsys: pytest.CaptureFixture[str], restore_logging: None) -> None:
    configure_logging("INFO", json=False, process="worker")
    structlog.get_logger().info("meter_linked", meter="14123456783", pin="2580")
    structlog.get_logger().warning("outbox_publish_failed", error="TimeoutError")
    logging.getLogger("celery.apps.worker").info("embedded@vm ready.")  # start-up chatter: hidden
    logging.getLogger("celery.worker.consumer").error("consumer: Cannot connect")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3, lines
    assert re.fullmatch(r"\d\d:\d\d:\d\d worker +meter_linked meter=14123456783 pin=\[redacted\]", lines[0])
    assert re.fullmatch(r"\d\d:\d\d:\d\d worker +WARNING outbox_publish_failed error=TimeoutError", lines[1])
    assert "ERROR consumer: Cannot connect" in lines[2]
    assert not any(line.startswith("{") for line in lines)


@pytest.mark.parametrize("human", [False, True])
def test_periodic_tasks_are_quiet_at_info(
    human: bool, capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    running: list[str | None] = [None]
    configure_logging(
        "INFO",
        json=not human,
        process="worker",
        periodic_tasks=lambda: {RELAY},
        current_task=lambda: running[0],
    )
    logging.getLogger("celery.beat").info("Scheduler: Sending due task %s (%s)", "relay", RELAY)
    _task_record("celery.worker.strategy", RELAY)
    _task_record("celery.app.trace", RELAY)
    running[0] = RELAY
    structlog.get_logger().info("outbox_relayed", count=0)
    structlog.get_logger().warning("outbox_publish_failed", error="TimeoutError")
    running[0] = None
    _task_record("celery.app.trace", "samaconso.identity.tasks.send_sms")
    _task_record("celery.app.trace", RELAY, logging.ERROR)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3, lines
    assert "outbox_publish_failed" in lines[0]
    assert "send_sms" in lines[1]
    assert RELAY in lines[2]
    if not human:
        assert [json.loads(line)["level"] for line in lines] == ["warning", "info", "error"]


def test_periodic_tasks_show_at_debug(capsys: pytest.CaptureFixture[str], restore_logging: None) -> None:
    configure_logging(
        "DEBUG", json=True, process="worker", periodic_tasks=lambda: {RELAY}, current_task=lambda: RELAY
    )
    logging.getLogger("celery.beat").info("Scheduler: Sending due task %s (%s)", "relay", RELAY)
    _task_record("celery.app.trace", RELAY)
    structlog.get_logger().info("outbox_relayed", count=0)
    events = [json.loads(line)["event"] for line in capsys.readouterr().err.splitlines()]
    assert len(events) == 3, events
    assert events[2] == "outbox_relayed"


def test_sms_and_push_echo_is_one_short_line() -> None:
    sms = echo_line(
        "sms", {"to": "+221771234567", "message": "Votre code SamaConso : 482913.\nValable 5 min."}
    )
    assert re.fullmatch(
        r"\d\d:\d\d:\d\d >>> SMS to \+221771234567: Votre code SamaConso : 482913\. Valable 5 min\.", sms
    )
    push = echo_line(
        "push",
        {
            "message": {
                "token": "fcm-token-0123456789abcdef",
                "notification": {"title": "Coupure", "body": "x" * 500},
            }
        },
    )
    assert "\n" not in push
    assert len(push) < 260
    assert ">>> PUSH to device ...abcdef: Coupure | xxx" in push
