"""Notifications fixtures: the FCM stand-in (HTTP/2 + OAuth2), Celery workers and API processes as
real subprocesses (``samaconso worker`` / ``samaconso api``), and helpers to create devices/meters."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from samaconso.embedded.procs import ManagedProcess, free_port, port_open, wait_for
from samaconso.identity.models import Device, Role, User
from samaconso.kit.db import Database
from samaconso.meters.models import LinkStatus, Meter, MeterKind, MeterLink
from samaconso.notifications.models import Delivery, DeliveryStatus
from tests.support import env
from tests.support.fcm_standin import FcmStandIn

SAMACONSO = str(Path(sys.executable).parent / "samaconso")


@pytest.fixture
def settings_overrides(fcm: FcmStandIn) -> dict[str, Any]:
    """The notifications tests' app and senders push to the FCM stand-in."""
    return {
        "push_backend": "fcm",
        "fcm_project_id": fcm.project_id,
        "fcm_endpoint": fcm.url,
        "fcm_token_uri": fcm.token_uri,
        "fcm_credentials_file": fcm.credentials_file,
    }


def child_env(fcm: FcmStandIn, **extra: str) -> dict[str, str]:
    base = {
        "SAMACONSO_PUSH_BACKEND": "fcm",
        "SAMACONSO_FCM_PROJECT_ID": fcm.project_id,
        "SAMACONSO_FCM_ENDPOINT": fcm.url,
        "SAMACONSO_FCM_TOKEN_URI": fcm.token_uri,
        "SAMACONSO_FCM_CREDENTIALS_FILE": str(fcm.credentials_file),
        "SAMACONSO_FCM_CONCURRENCY": "100",
        "SAMACONSO_LOG_LEVEL": "WARNING",
    }
    return {**base, **extra}


WorkerFactory = Callable[..., ManagedProcess]


@pytest.fixture
def start_worker(fcm: FcmStandIn) -> Iterator[WorkerFactory]:
    """Start ``samaconso worker`` subprocesses (all queues); stopped at the end of the test."""
    started: list[ManagedProcess] = []

    def start(name: str = "w", *, beat: bool = False, concurrency: int = 2, **extra: str) -> ManagedProcess:
        tag = f"{name}-{uuid.uuid4().hex[:6]}"
        argv = [
            SAMACONSO,
            "worker",
            "--queues",
            "all",
            "--concurrency",
            str(concurrency),
            "--name",
            f"{tag}@%h",
        ]
        if beat:
            argv.append("--beat")
        data_dir = env.TMP / f"worker-{tag}"
        data_dir.mkdir(parents=True, exist_ok=True)  # the beat schedule file lives there
        proc = ManagedProcess(
            tag,
            argv,
            env.TMP / "logs" / f"{tag}.log",
            env=child_env(fcm, SAMACONSO_DATA_DIR=str(data_dir), **extra),
        )
        proc.start()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop(timeout_s=5)


@pytest.fixture
def worker(start_worker: WorkerFactory) -> ManagedProcess:
    """One ``samaconso worker`` (all queues) for this test alone. (A worker kept for a whole module
    went on consuming during the module's other tests, whose counts then depended on the order.)"""
    return start_worker("w")


@pytest.fixture
def start_api(fcm: FcmStandIn) -> Iterator[Callable[..., str]]:
    started: list[ManagedProcess] = []

    def start(**extra: str) -> str:
        port = free_port()
        proc = ManagedProcess(
            f"api-{port}",
            [SAMACONSO, "api", "--host", "127.0.0.1", "--port", str(port)],
            env.TMP / "logs" / f"api-{port}.log",
            env=child_env(fcm, SAMACONSO_INSTANCE_NAME=f"api-{port}", **extra),
        ).start()
        started.append(proc)
        wait_for(lambda: port_open("127.0.0.1", port), 40, f"api on {port}", proc)
        return f"http://127.0.0.1:{port}"

    yield start
    for proc in started:
        proc.stop(timeout_s=5)


# --- data helpers ---------------------------------------------------------------------------------


async def add_devices(db: Database, user_ids: list[uuid.UUID], *, prefix: str = "tok") -> list[str]:
    """One pushable device per user id; returns the FCM tokens."""
    tokens = [f"{prefix}-{i}-{uuid.uuid4().hex}" for i in range(len(user_ids))]
    rows = [
        {"id": uuid.uuid4(), "user_id": u, "device_id": f"dev-{t}", "fcm_token": t, "fcm_token_hash": t[-64:]}
        for u, t in zip(user_ids, tokens, strict=True)
    ]
    async with db.sessionmaker() as session:
        for i in range(0, len(rows), 5000):
            await session.execute(insert(Device), rows[i : i + 5000])
        await session.commit()
    return tokens


async def add_customers(db: Database, count: int) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(count)]
    base = int(time.time() * 1000) % 10_000_000
    rows = [
        {"id": i, "role": Role.customer, "phone": f"+22178{(base + n) % 10_000_000:07d}", "language": "fr"}
        for n, i in enumerate(ids)
    ]
    async with db.sessionmaker() as session:
        for i in range(0, len(rows), 5000):
            await session.execute(insert(User), rows[i : i + 5000])
        await session.commit()
    return ids


async def link_meter(
    db: Database, user_id: uuid.UUID, agency_id: uuid.UUID | None, *, number: str | None = None
) -> uuid.UUID:
    async with db.sessionmaker() as session:
        meter = Meter(
            kind=MeterKind.prepaid, number=number or str(uuid.uuid4().int)[:11], agency_id=agency_id
        )
        session.add(meter)
        await session.flush()
        session.add(MeterLink(meter_id=meter.id, user_id=user_id, status=LinkStatus.active, is_owner=True))
        await session.commit()
        return meter.id


async def delivery_statuses(db: Database, nid: uuid.UUID) -> dict[str, int]:
    async with db.sessionmaker() as session:
        rows = (
            await session.execute(select(Delivery.status).where(Delivery.notification_id == nid))
        ).scalars()
        out: dict[str, int] = {}
        for s in rows:
            out[s] = out.get(s, 0) + 1
        return out


async def wait_until(check: Callable[[], object], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def all_delivered(db: Database, nid: uuid.UUID, expected: int) -> bool:
    st = await delivery_statuses(db, nid)
    done = st.get(DeliveryStatus.sent, 0) + st.get(DeliveryStatus.dead, 0) + st.get(DeliveryStatus.failed, 0)
    return done >= expected and sum(st.values()) == done


__all__ = ["AsyncIterator", "os"]
