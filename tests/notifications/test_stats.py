"""`GET /notifications/{id}` tells the truth at every step of a broadcast, not only at the end.

The pipeline steps are run one by one in this process (the fan-out and send-batch functions the
Celery tasks call), with a broker stand-in that only records what would be enqueued, so the stats
can be read between any two steps."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import select, text, update
from sqlalchemy.dialects import postgresql

from samaconso.identity.models import Device, Role
from samaconso.kit.db import Database
from samaconso.notifications import pipeline
from samaconso.notifications import repository as repo
from samaconso.notifications.fcm import PushMessage, SendResult
from samaconso.notifications.models import Notification
from samaconso.settings import Settings
from tests.notifications.conftest import add_customers, add_devices
from tests.support.users import make_user


def _uuid(raw: str | None) -> uuid.UUID | None:
    return uuid.UUID(raw) if raw else None


class RecordingBroker:
    """Stands in for the Celery app: keeps the tasks the pipeline enqueues, in order."""

    def __init__(self) -> None:
        self.tasks: list[tuple[str, list[Any]]] = []

    def send_task(self, name: str, args: list[Any], **_: Any) -> None:
        self.tasks.append((name, args))

    def take(self, name: str) -> list[list[Any]]:
        taken = [args for n, args in self.tasks if n == name]
        self.tasks = [(n, a) for n, a in self.tasks if n != name]
        return taken


class AcceptingPusher:
    """A push backend that accepts every message (delivery itself is tested against the FCM stand-in)."""

    def __init__(self) -> None:
        self.tokens: list[str] = []

    async def send(self, message: PushMessage) -> SendResult:
        self.tokens.append(message.token)
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


async def test_stats_are_truthful_while_a_broadcast_is_under_way(
    app: FastAPI, client: AsyncClient, db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "PAGE_SIZE", 10)  # 25 devices → 3 send batches
    monkeypatch.setattr(pipeline, "PAGES_PER_FANOUT", 2)  # → the fan-out takes 2 steps
    # Nothing is published to RabbitMQ: this test runs each step itself (the outbox row stays).
    monkeypatch.setattr(app.state.outbox_publisher, "publish", lambda ids: None)
    users = await add_customers(db, 25)
    tokens = await add_devices(db, users)
    admin = await make_user(db, settings, Role.admin)  # no device: not part of the audience
    created = await client.post(
        "/api/v1/notifications",
        json={
            "target": {"kind": "everyone"},
            "type": "campaign",
            "title": {"fr": "Information", "en": "Information"},
            "body": {"fr": "Message à tous", "en": "Message to all"},
        },
        headers=admin.headers,
    )
    assert created.status_code == 202
    nid = uuid.UUID(created.json()["id"])

    async def stats() -> dict[str, Any]:
        r = await client.get(f"/api/v1/notifications/{nid}", headers=admin.headers)
        assert r.status_code == 200
        body: dict[str, Any] = r.json()
        return body

    def progress(s: dict[str, Any]) -> tuple[Any, ...]:
        return (s["status"], s["targeted_devices"], s["sent"], s["pending"], s["fanout_complete"])

    # Accepted, fan-out not started: nothing is known yet, and nothing claims to be finished.
    assert progress(await stats()) == ("queued", None, 0, None, False)

    broker = RecordingBroker()
    redis = app.state.redis
    await pipeline.fanout(db, redis, broker, nid, None, "low_priority")  # type: ignore[arg-type]
    # First fan-out step: 2 batches enqueued (none run), the fan-out continues with a cursor.
    assert progress(await stats()) == ("fanning_out", 25, 0, 25, False)
    batches = broker.take(pipeline.SEND_BATCH_TASK)
    assert len(batches) == 2

    pusher = AcceptingPusher()
    _, start, upto = batches[0]
    await pipeline.send_batch(db, pusher, nid, _uuid(start), uuid.UUID(upto), redelivered=False)
    assert progress(await stats()) == ("fanning_out", 25, 10, 15, False)

    (next_step,) = broker.take(pipeline.FANOUT_TASK)
    await pipeline.fanout(db, redis, broker, nid, uuid.UUID(next_step[1]), "low_priority")  # type: ignore[arg-type]
    # Fan-out complete, 2 batches still waiting in the queue: not done, 15 devices pending.
    assert progress(await stats()) == ("sending", 25, 10, 15, True)
    batches += broker.take(pipeline.SEND_BATCH_TASK)
    assert len(batches) == 3
    assert broker.tasks == []

    _, start, upto = batches[1]
    await pipeline.send_batch(db, pusher, nid, _uuid(start), uuid.UUID(upto), redelivered=False)
    assert progress(await stats()) == ("sending", 25, 20, 5, True)

    _, start, upto = batches[2]
    await pipeline.send_batch(db, pusher, nid, _uuid(start), uuid.UUID(upto), redelivered=False)
    final = await stats()
    assert progress(final) == ("done", 25, 25, 0, True)
    assert (final["failed"], final["dead_tokens"], final["skipped"]) == (0, 0, 0)
    assert sorted(pusher.tokens) == sorted(tokens)  # each device served once

    # A redelivered first fan-out step neither recounts nor reopens the broadcast.
    await pipeline.fanout(db, redis, broker, nid, None, "low_priority")  # type: ignore[arg-type]
    assert progress(await stats()) == ("done", 25, 25, 0, True)


async def test_device_gone_between_count_and_its_batch_still_ends_done(
    app: FastAPI, client: AsyncClient, db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A device counted when the fan-out started but signed out before its batch ran is never
    served: the broadcast still ends ``done`` (skipped 1) instead of staying 'sending' forever."""
    monkeypatch.setattr(pipeline, "PAGE_SIZE", 10)
    monkeypatch.setattr(app.state.outbox_publisher, "publish", lambda ids: None)
    users = await add_customers(db, 25)
    await add_devices(db, users)
    admin = await make_user(db, settings, Role.admin)
    created = await client.post(
        "/api/v1/notifications",
        json={
            "target": {"kind": "everyone"},
            "type": "campaign",
            "title": {"fr": "Information", "en": "Information"},
            "body": {"fr": "Message à tous", "en": "Message to all"},
        },
        headers=admin.headers,
    )
    nid = uuid.UUID(created.json()["id"])

    async def progress() -> tuple[Any, ...]:
        s = (await client.get(f"/api/v1/notifications/{nid}", headers=admin.headers)).json()
        return (s["status"], s["targeted_devices"], s["sent"], s["pending"], s["skipped"])

    broker = RecordingBroker()
    await pipeline.fanout(db, app.state.redis, broker, nid, None, "low_priority")  # type: ignore[arg-type]
    batches = broker.take(pipeline.SEND_BATCH_TASK)
    assert len(batches) == 3
    assert await progress() == ("sending", 25, 0, 25, 0)
    async with db.sessionmaker() as session, session.begin():  # the last device's owner signs out
        last = await session.scalar(select(Device.id).order_by(Device.id.desc()).limit(1))
        await session.execute(update(Device).where(Device.id == last).values(is_active=False))
    pusher = AcceptingPusher()
    for _, start, upto in batches[:2]:
        await pipeline.send_batch(db, pusher, nid, _uuid(start), uuid.UUID(upto), redelivered=False)
    assert await progress() == ("sending", 25, 20, 5, 0)
    _, start, upto = batches[2]
    await pipeline.send_batch(db, pusher, nid, _uuid(start), uuid.UUID(upto), redelivered=False)
    assert await progress() == ("done", 25, 24, 0, 1)
    # The same batch delivered again (redelivery) serves nobody twice and changes nothing.
    await pipeline.send_batch(db, pusher, nid, _uuid(start), uuid.UUID(upto), redelivered=True)
    assert await progress() == ("done", 25, 24, 0, 1)
    assert len(pusher.tokens) == len(set(pusher.tokens)) == 24


async def test_audience_count_and_pages_use_the_pushable_index(db: Database) -> None:
    """The audience COUNT (and the keyset pages) can be answered from ix_devices_pushable: at a
    million devices a sequential scan of ``devices`` per broadcast would not do."""
    users = await add_customers(db, 30)
    await add_devices(db, users)
    everyone = Notification(id=uuid.uuid4(), target_kind="everyone")
    page = select(Device.id).where(repo.PUSHABLE, repo.device_target_filter(everyone)).order_by(Device.id)
    async with db.engine.connect() as conn:  # fresh visibility map and statistics, as in production
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE devices"))
    async with db.sessionmaker() as session, session.begin():
        # Tiny test table: make the planner prefer indexes, as it does on a large table; a query the
        # index predicate does not cover still falls back to a sequential scan here.
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        for query in (repo.pushable_count_query(everyone), page.limit(10)):
            compiled = query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})  # type: ignore[no-untyped-call]
            plan = "\n".join(await session.scalars(text(f"EXPLAIN {compiled}")))
            assert "ix_devices_pushable" in plan, plan
        assert await repo.count_pushable(session, everyone) == 30
