"""Realtime delivery to open app sessions (WebSocket), whichever API process holds them.

Every API process runs ONE Redis pub/sub subscriber (started by the app's lifespan) on
``samaconso:notifications``; the fan-out task publishes each new notification there with its audience
keys, and each process forwards it to the sockets it holds whose user belongs to one of those keys.
A socket only holds memory: no database connection while idle (the token and the audience keys are
resolved once, at authentication, with a short-lived session).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from fastapi import WebSocket
from prometheus_client import Gauge
from redis.asyncio import Redis
from redis.exceptions import RedisError

from samaconso.kit.db import Database
from samaconso.kit.metrics import QUEUE_DEPTH, REGISTRY
from samaconso.notifications.pipeline import REALTIME_CHANNEL
from samaconso.notifications.service import oldest_unfinished_broadcast_age_s, outbox_backlog
from samaconso.settings import Settings
from samaconso.worker import QUEUES

log = structlog.get_logger(__name__)

OUTBOX_PENDING = Gauge(
    "samaconso_notification_outbox_pending", "Outbox rows not yet published to RabbitMQ.", registry=REGISTRY
)
OLDEST_UNFINISHED_BROADCAST = Gauge(
    "samaconso_notification_oldest_unfinished_broadcast_seconds",
    "Age of the oldest broadcast whose fan-out or sends are not finished (0: none).",
    registry=REGISTRY,
)
WS_CONNECTIONS = Gauge(
    "samaconso_ws_connections", "Open WebSocket sessions in this process.", registry=REGISTRY
)


@dataclass(eq=False)
class Subscriber:
    websocket: WebSocket
    user_id: uuid.UUID
    language: str
    audiences: list[str]
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=lambda: asyncio.Queue(maxsize=100))


class RealtimeHub:
    def __init__(self, redis_url: str, timeout_s: float, *, client: Redis | None = None) -> None:
        # A dedicated connection: a pub/sub connection cannot serve other commands. ``client``: one
        # built by the wiring (``kit.cache.redis_client(pubsub=True)``: redis_url or via Sentinel).
        self._redis = client or Redis.from_url(
            redis_url, socket_connect_timeout=timeout_s, health_check_interval=30
        )
        self._by_audience: dict[str, set[Subscriber]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    def add(self, sub: Subscriber) -> None:
        for key in sub.audiences:
            self._by_audience[key].add(sub)
        WS_CONNECTIONS.inc()

    def remove(self, sub: Subscriber) -> None:
        for key in sub.audiences:
            subs = self._by_audience.get(key)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._by_audience[key]
        WS_CONNECTIONS.dec()

    def dispatch(self, payload: dict[str, Any]) -> int:
        targets: set[Subscriber] = set()
        for key in payload.get("audiences", []):
            targets |= self._by_audience.get(key, set())
        for sub in targets:
            with contextlib.suppress(asyncio.QueueFull):  # a stuck client loses realtime, not the feed
                sub.queue.put_nowait(payload)
        return len(targets)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="realtime-listener")

    async def stop(self) -> None:
        task, self._task = self._task, None
        # redis-py swallows a cancellation that lands while the subscriber connects (the listener then
        # waits in get_message): cancel again until it ends, or a stop right after a start never returns.
        while task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=0.05)
        await self._redis.aclose()

    async def _listen(self) -> None:
        backoff = 0.5
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(REALTIME_CHANNEL)
                self.ready.set()
                backoff = 0.5
                while True:
                    msg = await pubsub.get_message(timeout=30.0)
                    if msg is None or msg.get("type") != "message":
                        continue
                    try:
                        payload = json.loads(msg["data"])
                    except ValueError:
                        continue
                    self.dispatch(payload)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                raise
            except (RedisError, OSError) as exc:  # Redis restart: resubscribe
                self.ready.clear()
                log.warning("realtime_subscriber_lost", error=type(exc).__name__)
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                await asyncio.sleep(backoff)
                backoff = min(10.0, backoff * 2)


def _queue_depths(broker_url: str) -> dict[str, int]:
    from kombu import Connection

    depths: dict[str, int] = {}
    with Connection(broker_url, connect_timeout=2) as conn:
        channel: Any = conn.channel()
        for name in QUEUES:
            try:
                _, count, _ = channel.queue_declare(queue=name, passive=True)
            except Exception:  # queue not declared yet
                channel = conn.channel()
                count = 0
            depths[name] = int(count)
    return depths


def queue_metrics_refresher(settings: Settings, db: Database) -> Callable[[], Awaitable[None]]:
    """The ``/metrics`` refresher of the queue depths and the outbox backlog (wired at start-up)."""

    async def refresh_queue_metrics() -> None:
        try:
            depths = await asyncio.wait_for(asyncio.to_thread(_queue_depths, settings.broker_url), 3.0)
        except Exception as exc:
            log.warning("queue_depth_unavailable", error=type(exc).__name__)
        else:
            for name, count in depths.items():
                QUEUE_DEPTH.labels(name).set(count)
        with contextlib.suppress(Exception):
            async with db.sessionmaker() as session:
                OUTBOX_PENDING.set(await outbox_backlog(session))
                OLDEST_UNFINISHED_BROADCAST.set(await oldest_unfinished_broadcast_age_s(session))

    return refresh_queue_metrics
