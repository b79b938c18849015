"""Tasks travel through the real RabbitMQ and are consumed from the queue their route names."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from kombu import Connection

from samaconso.embedded.procs import ManagedProcess
from samaconso.worker import QUEUES, celery_app, echo, echo_high, echo_low, echo_urgent, route_for


@pytest.fixture(scope="module")
def purged_queues() -> None:
    assert celery_app.conf.broker_url.startswith("amqp://")
    with Connection(celery_app.conf.broker_url) as conn:
        channel = conn.channel()
        for queue in celery_app.conf.task_queues:
            queue(channel).declare()
            queue(channel).purge()


@contextmanager
def worker_process(queues: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedProcess]:
    """A real ``samaconso worker`` process (what production runs), consuming only ``queues``."""
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    proc = ManagedProcess(
        "worker",
        [
            sys.executable,
            "-m",
            "samaconso.cli",
            "worker",
            "--queues",
            queues,
            "--pool",
            "solo",
            "--loglevel",
            "WARNING",
        ],
        log_path=log,
    ).start()
    # Start-up (imports, broker connection) takes from 2 s to over 20 s on a loaded machine: wait until
    # the worker answers a ping, so the bounds below measure consumption, not the machine's load.
    deadline = time.monotonic() + 120
    while not celery_app.control.ping(timeout=1.0):
        assert proc.running, log.read_text()[-2000:]
        assert time.monotonic() < deadline, "the worker did not answer a ping within 120 s"
    try:
        yield proc
    finally:
        proc.stop()


def _depth(name: str) -> int:
    with Connection(celery_app.conf.broker_url) as conn:
        channel: Any = conn.default_channel  # kombu's channel types stop at StdChannel
        _, count, _ = channel.queue_declare(queue=name, passive=True)
        return int(count)


def test_routing_table() -> None:
    assert route_for("samaconso.system.echo_urgent") == "urgent"
    assert route_for("samaconso.system.echo_high") == "high_priority"
    assert route_for("samaconso.system.echo") == "normal"
    assert route_for("samaconso.system.echo_low") == "low_priority"
    assert route_for("samaconso.anything.unknown") == "normal"


def test_each_task_lands_in_its_queue_and_is_consumed_there(
    purged_queues: None, tmp_path_factory: pytest.TempPathFactory
) -> None:
    expected = {"urgent": echo_urgent, "high_priority": echo_high, "normal": echo, "low_priority": echo_low}
    results = {queue: task.delay({"q": queue}) for queue, task in expected.items()}
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_depth(q) != 1 for q in QUEUES):
        time.sleep(0.1)
    assert {q: _depth(q) for q in QUEUES} == dict.fromkeys(QUEUES, 1)

    # A worker consuming only urgent + high_priority (worker 1 in production) leaves the others alone.
    with worker_process("urgent,high_priority", tmp_path_factory):
        assert results["urgent"].get(timeout=20)["queue"] == "urgent"
        assert results["high_priority"].get(timeout=20)["queue"] == "high_priority"
    assert _depth("normal") == 1
    assert _depth("low_priority") == 1

    with worker_process("normal,low_priority", tmp_path_factory):
        assert results["normal"].get(timeout=20) == {
            "payload": {"q": "normal"},
            "queue": "normal",
            "hostname": results["normal"].get()["hostname"],
        }
        assert results["low_priority"].get(timeout=20)["queue"] == "low_priority"
    assert all(_depth(q) == 0 for q in QUEUES)


def test_worker_safety_settings() -> None:
    conf = celery_app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
