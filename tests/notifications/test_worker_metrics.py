"""What Prometheus reads from a real ``samaconso worker``: push and SMS outcomes, retries, dead tokens
and breaker states, summed over the worker's pool processes, on its own port, behind the metrics token.
And the API's gauge of a stuck broadcast."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from httpx import AsyncClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from samaconso.embedded.procs import free_port, port_open, wait_for
from samaconso.identity.sms_delivery import SEND_SMS_TASK
from samaconso.identity.sms_sealing import seal_sms
from samaconso.kit.db import Database
from samaconso.notifications import service
from samaconso.notifications.models import Notification
from samaconso.settings import Settings
from samaconso.worker import make_celery
from tests.notifications.conftest import WorkerFactory, add_devices, all_delivered, wait_until
from tests.support.fcm_standin import FcmStandIn
from tests.support.users import make_user

METRICS_TOKEN = "worker-metrics-token-" + uuid.uuid4().hex + uuid.uuid4().hex


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = tuple(sorted((k, v) for k, v in s.labels.items() if k != "pid"))
            out[(s.name, labels)] = out.get((s.name, labels), 0.0) + s.value
    return out


async def notify(db: Database, user_id: uuid.UUID) -> uuid.UUID:
    async with db.sessionmaker() as session:
        nid = await service.notify_user(
            session,
            user_id=user_id,
            type="meter_access_granted",
            title_fr="Accès accordé",
            body_fr="Vous avez accès au compteur.",
            title_en="Access granted",
            body_en="You now have access to the meter.",
        )
        await session.commit()
    return nid


async def test_worker_endpoint_serves_push_and_sms_outcomes(
    db: Database, settings: Settings, fcm_clean: FcmStandIn, start_worker: WorkerFactory
) -> None:
    port = free_port()
    proc = start_worker(
        "metrics", SAMACONSO_WORKER_METRICS_PORT=str(port), SAMACONSO_METRICS_TOKEN=METRICS_TOKEN
    )
    wait_for(lambda: port_open("127.0.0.1", port), 60, "worker metrics endpoint", proc)
    url = f"http://127.0.0.1:{port}/metrics"
    auth = {"Authorization": f"Bearer {METRICS_TOKEN}"}

    async with httpx.AsyncClient(timeout=5) as http:
        refused = await http.get(url)
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["detail"] == "Jeton de supervision requis."
        wrong = await http.get(url, headers={"Authorization": "Bearer nope", "Accept-Language": "en"})
        assert wrong.status_code == 401
        assert wrong.json()["detail"] == "Metrics token required."

        alice = await make_user(db, settings)
        bob = await make_user(db, settings)
        (live,) = await add_devices(db, [alice.id])
        await add_devices(db, [bob.id], prefix="dead")  # the stand-in answers UNREGISTERED
        to_alice, to_bob = await notify(db, alice.id), await notify(db, bob.id)
        await wait_until(lambda: all_delivered(db, to_alice, 1), 40, "push to alice")
        await wait_until(lambda: all_delivered(db, to_bob, 1), 40, "push to bob")
        assert fcm_clean.state.by_notification[str(to_alice)] == {live: 1}

        celery = make_celery(settings)
        sealed = seal_sms(settings, "+221770000001", "Votre code SamaConso : 482913")
        celery.send_task(SEND_SMS_TASK, args=(sealed,))
        celery.send_task(SEND_SMS_TASK, args=(sealed[:-4] + "AAAA",))  # altered on the way

        wanted = {
            ("samaconso_fcm_messages_total", (("outcome", "sent"),)): 1.0,
            ("samaconso_fcm_messages_total", (("outcome", "dead_token"),)): 1.0,
            ("samaconso_fcm_messages_total", (("outcome", "failed"),)): 0.0,
            ("samaconso_sms_messages_total", (("backend", "file"), ("outcome", "sent"))): 1.0,
            ("samaconso_sms_messages_total", (("backend", "file"), ("outcome", "unsealable"))): 1.0,
        }
        seen: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}

        async def counted() -> bool:
            nonlocal seen
            answer = await http.get(url, headers=auth)
            assert answer.status_code == 200
            seen = samples(answer.text)
            return all(seen.get(key) == value for key, value in wanted.items())

        await wait_until(counted, 40, f"worker metrics {wanted} (seen {seen})")
        assert seen[("samaconso_fcm_retries_total", (("reason", "throttled"),))] == 0.0
        # the legacy gateway's breakers of the pool processes: closed, and scraped from the start
        for target in ("legacy_sic", "legacy_histh2mc", "legacy_bi_ods"):
            assert seen[("samaconso_circuit_open", (("target", target),))] == 0.0
        celery.close()


async def test_stuck_broadcast_shows_in_the_api_metrics(
    client: AsyncClient, db: Database, settings: Settings
) -> None:
    gauge = ("samaconso_notification_oldest_unfinished_broadcast_seconds", ())
    assert samples((await client.get("/metrics")).text)[gauge] == 0.0  # (tables emptied per test)
    admin = await make_user(db, settings)
    async with db.sessionmaker() as session:
        n = Notification(
            type="campaign",
            priority="low",
            title_fr="Information",
            title_en="Information",
            body_fr="Message à tous",
            body_en="Message to all",
            target_kind="everyone",
            created_by=admin.id,
        )
        session.add(n)
        await session.flush()
        # created 40 minutes ago (the database's clock), fan-out never finished
        await session.execute(
            update(Notification)
            .where(Notification.id == n.id)
            .values(created_at=Notification.created_at - timedelta(minutes=40))
        )
        await session.commit()
    age = samples((await client.get("/metrics")).text)[gauge]
    assert 40 * 60 <= age < 2 * 86400

    async with db.sessionmaker() as session:  # withdrawn: no longer watched
        await session.execute(
            update(Notification).where(Notification.id == n.id).values(withdrawn_at=Notification.created_at)
        )
        await session.commit()
    assert samples((await client.get("/metrics")).text)[gauge] == 0.0
