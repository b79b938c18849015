"""Broadcast benchmark: one notification to N devices through the whole path.

API (``samaconso api``) → outbox row → RabbitMQ → ``samaconso worker`` processes → FCM stand-in
(HTTP/2, OAuth2, configurable latency), all as real processes on this machine. Prints messages/s and
the time from the API call to the last delivery, then the same figures for the old design (one
request per token, serially, measured on a sample against the same stand-in and extrapolated), with
and without its 10 s pause every 100 users.

    python -m bench.fanout [--devices 100000] [--latency 0.05] [--workers 1] [--procs 2]

Uses the PostgreSQL at TEST_PG_ADMIN_DSN (a scratch database is created and dropped) and the Redis /
RabbitMQ given by SAMACONSO_REDIS_URL / SAMACONSO_BROKER_URL (default: the machine's, Redis db 11).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
from tests.support import fcm_standin

from samaconso.embedded.procs import ManagedProcess, free_port, port_open, wait_for
from samaconso.notifications.curl_http2 import CurlHttp2Client
from samaconso.notifications.fcm import FcmSender, PushMessage
from samaconso.settings import Settings

PG_ADMIN = os.environ.get("TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
BIN = Path(sys.executable).parent
NODE_STANDIN = Path(fcm_standin.__file__).parent / "fcm_standin.mjs"


def _cpu_seconds(pgid: int) -> float:
    """CPU time (user + system) of every live process in a process group, from /proc."""
    total = 0
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after the command: state, ppid, pgrp, ...
            total += int(fields[11]) + int(fields[12])
    return total / tick


def _cpu_seconds_of_pid(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _admin(sql: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def _db_urls(name: str) -> tuple[str, str]:
    base = PG_ADMIN.rsplit("/", 1)[0]
    return f"{base}/{name}", f"{base.replace('postgresql://', 'postgresql+asyncpg://')}/{name}"


def _seed(dsn: str, devices: int) -> None:
    """Users and one pushable device each, loaded with COPY."""
    users, devs = io.StringIO(), io.StringIO()
    for i in range(devices):
        uid = uuid.uuid4()
        users.write(f"{uid}\tcustomer\t+22177{i:07d}\tfr\n")
        token = f"bench-{i}-{uuid.uuid4().hex}"
        devs.write(f"{uuid.uuid4()}\t{uid}\tdev-{i}\t{token}\t{token[-64:]}\n")
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with cur.copy("COPY users (id, role, phone, language) FROM STDIN") as cp:
            cp.write(users.getvalue())
        with cur.copy("COPY devices (id, user_id, device_id, fcm_token, fcm_token_hash) FROM STDIN") as cp:
            cp.write(devs.getvalue())
        conn.commit()
        cur.execute("ANALYZE users; ANALYZE devices")


def _admin_token(dsn: str, settings: Settings) -> str:
    from samaconso.kit.security import issue_access_token

    uid, sid = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(dsn) as conn:
        conn.execute("INSERT INTO users (id, role, login) VALUES (%s, 'admin', 'bench-admin')", (uid,))
        conn.execute(
            "INSERT INTO auth_sessions (id, user_id, expires_at) VALUES (%s, %s, %s)",
            (sid, uid, datetime.now(UTC) + timedelta(hours=2)),
        )
        conn.commit()
    return issue_access_token(settings, user_id=uid, session_id=sid, role="admin")


async def _standin_call(
    url: str, method: str, path: str, body: dict[str, object] | None = None
) -> dict[str, object]:
    channel = CurlHttp2Client(url, timeout_s=30)
    try:
        raw = json.dumps(body or {}).encode() if method == "POST" else None
        resp = await channel.request(method, path, ["Content-Type: application/json"], raw)
        return dict(json.loads(resp.body))
    finally:
        await channel.aclose()


async def _legacy_serial(settings: Settings, sample: int) -> float:
    """The old design: one HTTP request per token, one after the other. Returns messages/s."""
    sender = FcmSender(settings.model_copy(update={"fcm_concurrency": 1}))
    try:
        await sender.send(PushMessage("warm-up", "t", "b", {}, "low", "legacy"))
        start = time.perf_counter()
        for i in range(sample):
            await sender.send(
                PushMessage(f"legacy-{i}", "Information", "Message", {"type": "campaign"}, "low", "legacy")
            )
        return sample / (time.perf_counter() - start)
    finally:
        await sender.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument(
        "--latency", type=float, default=0.05, help="stand-in answer delay (s), like FCM's RTT"
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes (samaconso worker)")
    parser.add_argument("--procs", type=int, default=2, help="prefork children per worker")
    parser.add_argument("--fcm-concurrency", type=int, default=1000, help="in-flight requests per child")
    parser.add_argument(
        "--standin",
        choices=["auto", "node", "python"],
        default="auto",
        help="FCM stand-in: node (fcm_standin.mjs, used when node is installed) or python",
    )
    parser.add_argument("--legacy-sample", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-fanout-"))
    db_name = f"samaconso_bench_fanout_{os.getpid()}"
    dsn, async_url = _db_urls(db_name)
    procs: list[ManagedProcess] = []
    node = shutil.which("node") if args.standin in ("auto", "node") else None
    if args.standin == "node" and node is None:
        parser.error("--standin node: node is not installed")
    if node is not None:
        standin_cmd = [node, str(NODE_STANDIN), "--dir", str(tmp / "fcm")]
    else:
        standin_cmd = [sys.executable, "-m", "tests.support.fcm_standin", "--dir", str(tmp / "fcm")]
    print(f"FCM stand-in: {'Node.js http2 (fcm_standin.mjs)' if node else 'Python h2 (fcm_standin.py)'}")
    standin = subprocess.Popen(standin_cmd, stdout=subprocess.PIPE)
    try:
        assert standin.stdout is not None
        info = json.loads(standin.stdout.readline())
        fcm_url = str(info["url"])
        child_env = {
            "SAMACONSO_PROFILE": "test",
            "SAMACONSO_DATABASE_URL": async_url,
            "SAMACONSO_DATA_DIR": str(tmp / "data"),
            "SAMACONSO_PUSH_BACKEND": "fcm",
            "SAMACONSO_FCM_ENDPOINT": fcm_url,
            "SAMACONSO_FCM_TOKEN_URI": f"{fcm_url}/token",
            "SAMACONSO_FCM_CREDENTIALS_FILE": str(info["credentials_file"]),
            "SAMACONSO_FCM_PROJECT_ID": "samaconso-test",
            "SAMACONSO_FCM_CONCURRENCY": str(args.fcm_concurrency),
            "SAMACONSO_LOG_LEVEL": "WARNING",
            # the machine's Redis and RabbitMQ (make test's services) unless given: the defaults of
            # the settings name make run's embedded Redis, which is not running here (the bench hung)
            "SAMACONSO_REDIS_URL": os.environ.get("SAMACONSO_REDIS_URL", "redis://127.0.0.1:6379/11"),
            "SAMACONSO_RESULT_BACKEND": os.environ.get(
                "SAMACONSO_RESULT_BACKEND", "redis://127.0.0.1:6379/11"
            ),
            "SAMACONSO_BROKER_URL": os.environ.get(
                "SAMACONSO_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//"
            ),
            "SAMACONSO_JWT_SECRET": os.environ.get(
                "SAMACONSO_JWT_SECRET", "bench-signing-key-" + uuid.uuid4().hex
            ),
        }
        os.environ.update(child_env)
        settings = Settings()
        (tmp / "data").mkdir(parents=True, exist_ok=True)

        print(f"preparing database {db_name} with {args.devices} devices ...", flush=True)
        _admin(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        _admin(f'CREATE DATABASE "{db_name}"')
        from samaconso.cli import migrate

        migrate(async_url)
        _seed(dsn, args.devices)
        token = _admin_token(dsn, settings)

        port = free_port()
        api = ManagedProcess(
            "api",
            [str(BIN / "samaconso"), "api", "--host", "127.0.0.1", "--port", str(port)],
            tmp / "api.log",
            env=child_env,
        ).start()
        procs.append(api)
        for w in range(args.workers):
            procs.append(
                ManagedProcess(
                    f"worker{w}",
                    [
                        str(BIN / "samaconso"),
                        "worker",
                        "--queues",
                        "all",
                        "--concurrency",
                        str(args.procs),
                        "--name",
                        f"bench{w}-{uuid.uuid4().hex[:4]}@%h",
                    ],
                    tmp / f"worker{w}.log",
                    env=child_env,
                ).start()
            )
        wait_for(lambda: port_open("127.0.0.1", port), 60, "api", api)
        time.sleep(4)  # workers connected
        asyncio.run(
            _standin_call(fcm_url, "POST", "/_config", {"latency_s": args.latency, "reset_counts": True})
        )

        body = {
            "target": {"kind": "everyone"},
            "type": "campaign",
            "title": {"fr": "Information Senelec", "en": "Senelec information"},
            "body": {"fr": "Message à tous les clients.", "en": "Message to every customer."},
        }
        groups = {"api": [api], "workers": procs[1:]}
        cpu0 = {k: sum(_cpu_seconds(p.popen.pid) for p in v if p.popen) for k, v in groups.items()}
        cpu0["fcm stand-in"] = _cpu_seconds_of_pid(standin.pid)
        t0 = time.time()
        r = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/notifications",
            json=body,
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex},
            timeout=30,
        )
        api_ms = (time.time() - t0) * 1000
        r.raise_for_status()
        print(f"POST /notifications -> {r.status_code} in {api_ms:.0f} ms, id {r.json()['id']}", flush=True)
        stats: dict[str, object] = {}
        while time.time() - t0 < args.timeout:
            stats = asyncio.run(_standin_call(fcm_url, "GET", "/_stats?tokens=0"))
            if int(str(stats["accepted_total"])) >= args.devices:
                break
            time.sleep(0.5)
        accepted = int(str(stats["accepted_total"]))
        first_at, last_at = float(str(stats["first_at"])), float(str(stats["last_at"]))
        total_s = last_at - t0
        cpu = {k: sum(_cpu_seconds(p.popen.pid) for p in v if p.popen) - cpu0[k] for k, v in groups.items()}
        cpu["fcm stand-in"] = _cpu_seconds_of_pid(standin.pid) - cpu0["fcm stand-in"]
        print("\n=== new design (outbox -> RabbitMQ -> workers -> FCM v1 over HTTP/2) ===")
        print(f"devices targeted        {args.devices}")
        print(f"messages accepted       {accepted} (duplicates on the wire: {stats['duplicates']})")
        print(f"time to first delivery  {first_at - t0:.2f} s")
        print(f"time to last delivery   {total_s:.2f} s")
        print(f"throughput (end to end) {accepted / total_s:,.0f} messages/s")
        print(f"throughput (sending)    {accepted / max(1e-6, last_at - first_at):,.0f} messages/s")
        print(
            f"setup: {args.workers} worker x {args.procs} processes, {args.fcm_concurrency} in flight each, "
            f"stand-in latency {args.latency * 1000:.0f} ms, {os.cpu_count()} CPU cores shared by everything"
        )

        print(
            "CPU seconds used during the run: "
            + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items())
            + f" (per message: {1e6 * sum(cpu.values()) / max(1, accepted):.0f} us, PostgreSQL/RabbitMQ not counted)"
        )

        rate = asyncio.run(_legacy_serial(settings, args.legacy_sample))
        serial_s = args.devices / rate
        paused_s = serial_s + (args.devices / 100) * 10
        print("\n=== old design (one request per token, serial; measured on a sample) ===")
        print(f"sample                  {args.legacy_sample} messages at {rate:,.1f} messages/s")
        print(
            f"time to last delivery   {serial_s:,.0f} s = {serial_s / 3600:.2f} h (extrapolated to {args.devices})"
        )
        print(f"with its 10 s pause per 100 users: {paused_s:,.0f} s = {paused_s / 3600:.2f} h")
        print(
            f"speed-up                x{serial_s / total_s:,.0f} (x{paused_s / total_s:,.0f} with the pauses)"
        )
    finally:
        for p in reversed(procs):
            p.stop(timeout_s=5)
        standin.terminate()
        standin.wait(5)
        _admin(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
