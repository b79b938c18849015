"""Redis Sentinel, for real: a throwaway master, its replica and a sentinel (``redis-server
--sentinel``) on free loopback ports, never the shared :6379. The clients the wiring builds (cache,
rate limits, realtime subscriber, Celery results) find the master through the sentinel — the host in
``redis_url`` is a dead one — and keep working after a failover."""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from redis import Redis as SyncRedis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError

from samaconso.embedded.procs import ManagedProcess, free_port, port_open, wait_for
from samaconso.kit.cache import Cache, redis_client
from samaconso.kit.ratelimit import RateLimiter
from samaconso.notifications.pipeline import REALTIME_CHANNEL
from samaconso.notifications.realtime import RealtimeHub
from samaconso.settings import Settings
from samaconso.worker import make_celery

PASSWORD = "sentinel-test-" + uuid.uuid4().hex
MASTER = "samaconso"


@dataclass
class SentinelSet:
    master_port: int
    replica_port: int
    sentinel_port: int

    def master_now(self) -> int:
        client = SyncRedis(host="127.0.0.1", port=self.sentinel_port, password=PASSWORD, socket_timeout=2)
        host_port = client.execute_command("SENTINEL", "get-master-addr-by-name", MASTER)  # type: ignore[no-untyped-call]
        client.close()
        return int(host_port[1])


@pytest.fixture
def sentinels(tmp_path: Path) -> Iterator[SentinelSet]:
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server not installed: the sentinel test runs real Redis processes")
    master, replica, sentinel = free_port(), free_port(), free_port()
    procs: list[ManagedProcess] = []

    def start(name: str, argv: list[str], port: int) -> None:
        proc = ManagedProcess(name, argv, tmp_path / f"{name}.log").start()
        procs.append(proc)
        wait_for(lambda: port_open("127.0.0.1", port), 20, name, proc)

    common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--requirepass", PASSWORD]
    common += ["--masterauth", PASSWORD]
    start("redis-master", [exe, "--port", str(master), "--dir", str(tmp_path), *common], master)
    replica_args = ["--replicaof", "127.0.0.1", str(master)]
    start(
        "redis-replica",
        [exe, "--port", str(replica), "--dir", str(tmp_path), *common, *replica_args],
        replica,
    )
    conf = tmp_path / "sentinel.conf"
    conf.write_text(  # the sentinel asks for the same password as Redis (what the client sends it)
        f"port {sentinel}\nbind 127.0.0.1\ndir {tmp_path}\nrequirepass {PASSWORD}\n"
        f"sentinel monitor {MASTER} 127.0.0.1 {master} 1\n"
        f"sentinel auth-pass {MASTER} {PASSWORD}\n"
        f"sentinel down-after-milliseconds {MASTER} 1000\n"
        f"sentinel failover-timeout {MASTER} 5000\n"
    )
    start("redis-sentinel", [exe, str(conf), "--sentinel"], sentinel)
    replica_client = SyncRedis(host="127.0.0.1", port=replica, password=PASSWORD)
    wait_for(lambda: replica_client.info("replication")["master_link_status"] == "up", 20, "replication")
    replica_client.close()
    yield SentinelSet(master, replica, sentinel)
    for proc in reversed(procs):
        proc.stop(timeout_s=5)


def sentinel_settings(s: SentinelSet, db: int = 3) -> Settings:
    dead = free_port()  # nothing listens there: only the sentinel can lead to the master
    return Settings(
        redis_url=f"redis://:{PASSWORD}@127.0.0.1:{dead}/{db}",
        result_backend=f"redis://:{PASSWORD}@127.0.0.1:{dead}/{db + 1}",
        redis_sentinels=f"127.0.0.1:{s.sentinel_port}",
        redis_sentinel_master=MASTER,
        redis_timeout_s=1.0,
    )


def on_master(port: int, db: int) -> SyncRedis:
    return SyncRedis(host="127.0.0.1", port=port, password=PASSWORD, db=db, socket_timeout=2)


async def test_cache_rate_limits_realtime_and_results_go_to_the_master_the_sentinel_names(
    sentinels: SentinelSet,
) -> None:
    settings = sentinel_settings(sentinels)
    redis = redis_client(settings)
    cache = Cache(redis)
    await cache.set("tariffs:grid", {"tranche": 1}, 60)
    assert await cache.get("tariffs:grid") == {"tranche": 1}
    master = on_master(sentinels.master_port, 3)
    assert master.exists("cache:tariffs:grid") == 1

    limiter = RateLimiter(redis)
    assert await limiter.eviction_policy() == "noeviction"

    hub = RealtimeHub(settings.redis_url, 1.0, client=redis_client(settings, pubsub=True))
    await hub.start()
    try:
        await asyncio.wait_for(hub.ready.wait(), 10)
        subscribers = master.execute_command("PUBSUB", "NUMSUB", REALTIME_CHANNEL)  # type: ignore[no-untyped-call]
        assert int(subscribers[1]) == 1
    finally:
        await hub.stop()

    celery = make_celery(settings)
    task_id = str(uuid.uuid4())
    celery.backend.store_result(task_id, {"echo": "ok"}, "SUCCESS")
    assert celery.AsyncResult(task_id).get(timeout=5) == {"echo": "ok"}
    assert on_master(sentinels.master_port, 4).exists(f"celery-task-meta-{task_id}") == 1
    celery.close()
    await redis.aclose()
    master.close()


async def test_after_a_failover_the_clients_write_to_the_new_master(sentinels: SentinelSet) -> None:
    settings = sentinel_settings(sentinels)
    redis = redis_client(settings)
    await redis.set("before", b"1")
    replica = on_master(sentinels.replica_port, 3)
    wait_for(lambda: replica.get("before") == b"1", 10, "replication of the write made before the failover")
    replica.close()
    admin = SyncRedis(host="127.0.0.1", port=sentinels.sentinel_port, password=PASSWORD, socket_timeout=5)
    admin.execute_command("SENTINEL", "FAILOVER", MASTER)  # type: ignore[no-untyped-call]
    admin.close()
    deadline = time.monotonic() + 30
    while sentinels.master_now() != sentinels.replica_port:
        assert time.monotonic() < deadline, "the sentinel did not promote the replica"
        await asyncio.sleep(0.2)
    old = on_master(sentinels.master_port, 3)
    while old.info("replication")["role"] != "slave":  # reconfigured by the sentinel: now read-only
        assert time.monotonic() < deadline, "the old master was not turned into a replica"
        await asyncio.sleep(0.2)
    old.close()

    written = False
    while not written:
        assert time.monotonic() < deadline, "the client never reached the new master"
        try:
            await redis.set("after", b"2")
            written = True
        except (RedisConnectionError, ReadOnlyError, OSError):
            await asyncio.sleep(0.2)  # the old master went read-only: the pool asks the sentinel again
    new_master = on_master(sentinels.replica_port, 3)
    assert new_master.get("after") == b"2"
    assert new_master.get("before") == b"1"  # replicated before the switch
    assert (await redis.get("after")) == b"2"
    new_master.close()
    await redis.aclose()
