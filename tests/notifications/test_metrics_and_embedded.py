"""Queue depths and outbox backlog on /metrics; the embedded profile's push sink."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

from fastapi import FastAPI
from httpx import AsyncClient

from samaconso.kit.db import Database
from samaconso.notifications import pipeline, service
from samaconso.notifications.models import DeliveryStatus, NotificationType, TargetKind
from samaconso.settings import Settings
from samaconso.worker import celery_app
from tests.notifications.conftest import add_customers, add_devices, delivery_statuses


def metric(text: str, name: str, label: str) -> float:
    match = (
        re.search(rf'^{name}\{{queue="{label}"\}} (\S+)$', text, re.M)
        if label
        else re.search(rf"^{name} (\S+)$", text, re.M)
    )
    assert match, f"{name} {label} missing"
    return float(match.group(1))


async def test_metrics_show_queue_depth_and_outbox_backlog(
    app: FastAPI, client: AsyncClient, db: Database
) -> None:
    before = metric((await client.get("/metrics")).text, "samaconso_queue_depth", "low_priority")
    for _ in range(3):  # nobody consumes this vhost during this test
        celery_app.send_task(
            "samaconso.system.echo_low", args=["x"], queue="low_priority", routing_key="low_priority"
        )

    def keep(ids: list[uuid.UUID]) -> None:  # leave the outbox row unpublished
        return None

    publisher = app.state.outbox_publisher
    publisher.publish = keep
    try:
        async with db.sessionmaker() as session:
            service.add_notification(
                session,
                type_=NotificationType.campaign,
                content=service.Content("a", "a", "b", "b"),
                target=TargetKind.everyone,
                audiences=[service.EVERYONE_AUDIENCE],
            )
            await session.commit()
    finally:
        del publisher.publish  # back to the class's method
    text = (await client.get("/metrics")).text
    assert metric(text, "samaconso_queue_depth", "low_priority") >= before + 3
    assert metric(text, "samaconso_queue_depth", "urgent") >= 0
    assert metric(text, "samaconso_notification_outbox_pending", "") == 1


async def test_embedded_profile_writes_pushes_to_the_outbox_file(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    embedded = settings.model_copy(update={"push_backend": "file", "data_dir": tmp_path})
    pusher = pipeline.make_pusher(embedded)
    users = await add_customers(db, 3)
    tokens = await add_devices(db, users)
    async with db.sessionmaker() as session:
        nid = await service.notify_user(
            session,
            user_id=users[0],
            type="bill_available",
            title_fr="Facture",
            body_fr="Disponible",
            title_en="Bill",
            body_en="Ready",
        )
        await session.commit()
    result = await pipeline.send_batch(db, pusher, nid, None, uuid.UUID(int=2**128 - 1), redelivered=False)
    assert result == {"sent": 1, "dead": 0, "failed": 0}
    lines = [json.loads(line) for line in (tmp_path / "outbox" / "push.jsonl").read_text().splitlines()]
    assert [line["message"]["token"] for line in lines] == [tokens[0]]
    assert lines[0]["message"]["notification"] == {"title": "Facture", "body": "Disponible"}
    assert await delivery_statuses(db, nid) == {DeliveryStatus.sent: 1}
