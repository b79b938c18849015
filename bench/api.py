"""Hot-path benchmark of the API as production runs it (``make bench-api``).

1. scratch databases ``bench_api_<pid>`` (+ ``_legacy``) on the local PostgreSQL (127.0.0.1:5432,
   trust; ``BENCH_PG_ADMIN_DSN`` to change): the schema by Alembic, then ≥ 100 000 customers with
   their meters, links, devices, requests and notifications generated inside PostgreSQL
   (``bench/dashboard_data.py`` at ``--scale 0.1``), and the simulated legacy source loaded with COPY
   (``legacy.generator.load``, ``--legacy-customers``, their purchases over 6 months);
2. the first ``--users`` + ``--cold-users`` customers get a legacy prepaid meter (number + POC of
   the source, so purchases and summary really query it) and a session: a row in ``auth_sessions``
   and an access token signed with the run's key (what ``/auth/login`` returns, minted directly: no
   PIN hashing);
3. a private PgBouncer (Debian's, transaction mode, ``pgbouncer --version`` printed) in front of
   the database (the legacy source is reached directly, as SQL Server would be), and
   ``samaconso api --workers N`` (``--workers``, default 2 API processes) through it, with Redis
   and RabbitMQ of the machine (``BENCH_REDIS_URL``, default db 12 — **emptied at the start and at
   the end**: answers, session states and legacy data cached by an earlier run would make the cold
   pass warm — and ``SAMACONSO_BROKER_URL``), on the
   production settings' defaults (pool ping after 10 s idle, response cache, gc freeze);
4. ``wrk`` (Debian) per route, a Lua script rotating the tokens (``bench/api_wrk.lua``), ``/health``
   measured in the same run: a warm-up of the ``--users`` (their legacy answers cached, as in
   production), the **cold pass** (the ``--cold-users``: each one's first home screen, nothing of
   theirs cached — answers, session state, legacy data), then each warm case: cached answers
   dropped, the case's answers cached again (``--fill`` / 3 s), measured. Prints req/s, p50, p99,
   errors (non-2xx + socket) and API CPU per request (user+system time of the API processes during
   the run / requests);
5. stops everything and drops the databases (``--keep`` to keep them).

    python -m bench.api [--users 2000] [--cold-users 3000] [--connections 64] [--duration 10] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil
import psycopg

ADMIN_DSN = os.environ.get("BENCH_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
HERE = Path(__file__).resolve().parent
LUA = HERE / "api_wrk.lua"

# (label, path template, kind) — {meter} is the caller's legacy prepaid meter.
# API paths live under /api/v1 (the labels drop the prefix).
ROUTES: list[tuple[str, str]] = [
    ("GET /health", "/health"),
    ("GET /me", "/api/v1/me"),
    ("GET /me/meters", "/api/v1/me/meters"),
    ("GET /me/meters/{id}/purchases?limit=10", "/api/v1/me/meters/{meter}/purchases?limit=10"),
    ("GET /me/meters/{id}/summary", "/api/v1/me/meters/{meter}/summary"),
    ("GET /me/notifications/unread-count", "/api/v1/me/notifications/unread-count"),
    ("GET /me/notifications?limit=20", "/api/v1/me/notifications?limit=20"),
]
HOME = [
    "/api/v1/me/meters",
    "/api/v1/me/meters/{meter}/summary",
    "/api/v1/me/notifications/unread-count",
    "/api/v1/me/notifications?limit=20",
    "/api/v1/me/meters/{meter}/purchases?limit=10",
]


def _dsn(db: str) -> str:
    return ADMIN_DSN.rsplit("/", 1)[0] + f"/{db}"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fill(db: str, legacy_db: str, scale: float, legacy_customers: int) -> None:
    from bench.dashboard_data import steps
    from samaconso.cli import migrate
    from samaconso.legacy import generator

    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        for name in (db, legacy_db):
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db}"')
    migrate(_dsn(db).replace("postgresql://", "postgresql+asyncpg://", 1))
    with psycopg.connect(_dsn(db), autocommit=True) as conn:
        # customer requests are not on the hot path (and their generator predates `reference`)
        for label, sql in [s for s in steps(scale) if "requests" not in s[0]]:
            began = time.perf_counter()
            conn.execute(sql)
            print(f"  fill {label:<45} {time.perf_counter() - began:6.1f} s", flush=True)
    began = time.perf_counter()
    report = asyncio.run(
        generator.load(_dsn(legacy_db).replace("postgresql://", "postgresql+asyncpg://", 1), legacy_customers)
    )
    print(
        f"  legacy source: {legacy_customers} customers, {sum(report.rows.values()):,} rows "
        f"{time.perf_counter() - began:6.1f} s",
        flush=True,
    )


def sign_in(db: str, legacy_db: str, users: int, secret: str) -> list[tuple[str, str]]:
    """(token, meter id) of ``users`` customers, each owning a legacy prepaid meter."""
    from samaconso.kit.security import issue_access_token
    from samaconso.settings import Settings

    settings = Settings(jwt_secret=secret)
    with psycopg.connect(_dsn(legacy_db)) as legacy:
        rows = legacy.execute(
            'SELECT DISTINCT "MT_COMM_ADDR", "POLICE" FROM sic."HEXING_INFOS_ADMINISTRATIVES" '
            'WHERE "MT_COMM_ADDR" IS NOT NULL AND "POLICE" IS NOT NULL ORDER BY 1 LIMIT %s',
            (users,),
        ).fetchall()
    out: list[tuple[str, str]] = []
    with psycopg.connect(_dsn(db)) as conn:
        # customers i with an active, default, owned link on meter i (see dashboard_data)
        picked = [i for i in range(1, 10 * users) if i % 50 and i % 97][: len(rows)]
        for i, (number, poc) in zip(picked, rows, strict=False):
            user_id = uuid.UUID(conn.execute("SELECT md5(%s)::uuid", (f"u{i}",)).fetchone()[0].hex)  # type: ignore[index]
            meter_id = conn.execute(
                "UPDATE meters SET kind = 'prepaid', number = %s, poc = %s WHERE id = md5(%s)::uuid RETURNING id",
                (number, poc, f"m{i}"),
            ).fetchone()[0]  # type: ignore[index]
            session_id = conn.execute(
                "INSERT INTO auth_sessions (id, user_id, expires_at) "
                "VALUES (gen_random_uuid(), %s, now() + interval '1 day') RETURNING id",
                (user_id,),
            ).fetchone()[0]  # type: ignore[index]
            token = issue_access_token(settings, user_id=user_id, session_id=session_id, role="customer")
            out.append((token, str(meter_id)))
        conn.commit()
    with psycopg.connect(_dsn(db), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return out


def start_pgbouncer(
    tmp: Path, db: str, pool: int, binary: str = "pgbouncer", prepared: int = 0
) -> tuple[subprocess.Popen[bytes], int]:
    """PgBouncer in transaction mode; ``prepared`` > 0: ``max_prepared_statements`` (≥ 1.21 only)."""
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.split()[1]
    tracks_prepared = tuple(int(x) for x in version.split(".")[:2]) >= (1, 21)
    if prepared and not tracks_prepared:
        raise SystemExit(f"--prepared-statements needs PgBouncer >= 1.21 ({binary} is {version})")
    port = _free_port()
    tmp.chmod(0o755)
    (tmp / "userlist.txt").write_text('"postgres" ""\n')
    # max_prepared_statements only exists from 1.21 (Debian 12 has 1.18)
    tracking = f"max_prepared_statements = {prepared}\n" if tracks_prepared else ""
    (tmp / "pgbouncer.ini").write_text(
        f"""[databases]
{db} = host=127.0.0.1 port=5432 dbname={db} user=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {tmp}/userlist.txt
pool_mode = transaction
max_client_conn = 2000
default_pool_size = {pool}
{tracking}ignore_startup_parameters = extra_float_digits
logfile = {tmp}/pgbouncer.log
pidfile = {tmp}/pgbouncer.pid
"""
    )
    if sys.platform == "linux" and os.geteuid() == 0:
        shutil.chown(tmp, "postgres")
        for f in tmp.iterdir():
            shutil.chown(f, "postgres")
        cmd = [binary, "-q", "-u", "postgres", str(tmp / "pgbouncer.ini")]
    else:
        cmd = [binary, "-q", str(tmp / "pgbouncer.ini")]
    print(
        f"  PgBouncer {version} (transaction mode, max_prepared_statements "
        f"{prepared if tracks_prepared else 'unknown to it'}) on :{port}",
        flush=True,
    )
    proc = subprocess.Popen(cmd)
    _wait_port(port)
    return proc, port


def _wait_port(port: int, timeout: float = 60) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"nothing listens on :{port}")


def start_api(env: dict[str, str], port: int, workers: int) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).with_name("samaconso")
    cmd = [str(exe), "api", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    _wait_port(port)
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return proc
        except OSError:
            time.sleep(0.3)
    raise SystemExit("API did not answer /health")


def probe(port: int, paths: list[str], token: str, meter: str) -> None:
    """One request per route with the first caller: a non-2xx answer stops the bench with its body."""
    import urllib.error
    import urllib.request

    for path in paths:
        url = f"http://127.0.0.1:{port}" + path.replace("{meter}", meter)
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(req, timeout=10):  # noqa: S310
                pass
        except urllib.error.HTTPError as exc:
            raise SystemExit(f"{path}: HTTP {exc.code} {exc.read()[:400]!r}") from None


def api_cpu(proc: subprocess.Popen[bytes]) -> float:
    root = psutil.Process(proc.pid)
    total = 0.0
    for p in [root, *root.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def wrk(port: int, paths: list[str], tokens_file: Path, connections: int, duration: int) -> dict[str, float]:
    env = {**os.environ, "BENCH_TOKENS": str(tokens_file), "BENCH_PATHS": "|".join(paths)}
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{duration}s",
            "--timeout",
            "5s",
            "-s",
            str(LUA),
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("BENCH_JSON "))
    return dict(json.loads(line.removeprefix("BENCH_JSON ")))


def empty_redis(redis_url: str) -> None:
    """The bench's own Redis database emptied: nothing cached by an earlier run is served."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=10)
    client.flushdb()
    client.close()


def drop_cached_answers(redis_url: str) -> int:
    """Delete the response cache's entries (``resp:*``) of the bench's Redis database."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=10)
    keys = list(client.scan_iter(match="resp:*", count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])
    client.close()
    return len(keys)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=0.1, help="of 1 000 000 customers (0.1 = 100 000)")
    parser.add_argument("--legacy-customers", type=int, default=8_000)
    parser.add_argument("--users", type=int, default=2000, help="signed-in customers the load rotates")
    parser.add_argument(
        "--cold-users",
        type=int,
        default=3000,
        help="other customers, for the cold pass: each one's first home screen (nothing of theirs cached)",
    )
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2, help="API processes")
    parser.add_argument("--pool", type=int, default=20, help="PgBouncer server connections per database")
    parser.add_argument(
        "--api-pool",
        type=int,
        default=30,
        help="SQLAlchemy pool per API process (PgBouncer client connections)",
    )
    parser.add_argument(
        "--fill",
        type=int,
        default=30,
        help="a third of it (at least 3 s): load caching each warm case's answers before it is measured",
    )
    parser.add_argument("--only", default="", help="comma-separated route labels substring filter")
    parser.add_argument("--pgbouncer", default="pgbouncer", help="PgBouncer binary (Debian's: 1.18)")
    parser.add_argument(
        "--prepared-statements",
        type=int,
        default=0,
        help="PgBouncer >= 1.21: max_prepared_statements, and the app's statement caches on "
        "(SAMACONSO_DATABASE_PGBOUNCER_PREPARED_STATEMENTS=true, deploy/README.md §13.3)",
    )
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    # a SIGTERM (timeout, Ctrl-C from a wrapper) still stops the API and PgBouncer and drops the data
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    if not shutil.which("wrk") or not shutil.which(args.pgbouncer):
        raise SystemExit("wrk and pgbouncer are needed: apt-get install -y wrk pgbouncer")
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
    empty_redis(redis_url)
    db = f"bench_api_{os.getpid()}"
    legacy_db = f"{db}_legacy"
    secret = secrets.token_urlsafe(48)
    procs: list[subprocess.Popen[bytes]] = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-api-"))
    try:
        began = time.perf_counter()
        fill(db, legacy_db, args.scale, args.legacy_customers)
        if args.users + args.cold_users > args.legacy_customers:
            raise SystemExit("--users + --cold-users must not exceed --legacy-customers")
        signed = sign_in(db, legacy_db, args.users + args.cold_users, secret)
        pairs, cold_pairs = signed[: args.users], signed[args.users :]
        tokens, cold_tokens = tmp / "tokens.txt", tmp / "cold-tokens.txt"
        tokens.write_text("".join(f"{t} {m}\n" for t, m in pairs))
        cold_tokens.write_text("".join(f"{t} {m}\n" for t, m in cold_pairs))
        print(f"  dataset + {len(signed)} sessions in {time.perf_counter() - began:.0f} s", flush=True)
        bouncer, bport = start_pgbouncer(tmp, db, args.pool, args.pgbouncer, args.prepared_statements)
        procs.append(bouncer)
        port = _free_port()
        env = {
            **os.environ,
            "SAMACONSO_DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:{bport}/{db}",
            # the legacy source is a remote system (SQL Server) in production, not behind our PgBouncer;
            # through PgBouncer the gateway's prepared statements fail (DBAPIError, circuit opens)
            "SAMACONSO_LEGACY_SIMULATED_URL": _dsn(legacy_db).replace(
                "postgresql://", "postgresql+asyncpg://", 1
            ),
            "SAMACONSO_DATABASE_BEHIND_PGBOUNCER": "true",
            "SAMACONSO_DATABASE_PGBOUNCER_PREPARED_STATEMENTS": "true"
            if args.prepared_statements
            else "false",
            # client connections to PgBouncer are cheap: a pool as large as the process's concurrency,
            # so a burst does not open and close overflow connections (a login each) per request
            "SAMACONSO_DATABASE_POOL_SIZE": str(args.api_pool),
            "SAMACONSO_DATABASE_MAX_OVERFLOW": "10",
            "SAMACONSO_JWT_SECRET": secret,
            "SAMACONSO_LOG_LEVEL": "WARNING",
            "SAMACONSO_DATA_DIR": str(tmp / "data"),
            "SAMACONSO_RATE_LIMIT_ENABLED": "false",
        }
        env["SAMACONSO_REDIS_URL"] = redis_url
        env.setdefault("SAMACONSO_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/h10")
        api = start_api(env, port, args.workers)
        procs.append(api)
        load = os.getloadavg()
        print(f"  {args.workers} API processes on :{port}; load before the run {load[0]:.2f}", flush=True)

        cases = [(label, [path]) for label, path in ROUTES]
        cases.insert(1, ("home-screen sequence (5 routes), warm", HOME))
        if args.only:
            keys = [k.strip() for k in args.only.split(",")]
            cases = [c for c in cases if c[0] == "GET /health" or any(k in c[0] for k in keys)]
        probe(port, [p for _, p in ROUTES], *pairs[0])
        # warm-up: every caller's legacy answers cached (production steady state), connections opened
        wrk(port, HOME, tokens, args.connections, max(3, args.duration // 2))
        rows = []
        # cold pass: customers who had not opened the app (nothing of theirs cached: no answer, no
        # session state, no legacy data), each one's home screen read once — the burst after a
        # broadcast, when everyone opens the app at once
        cpu0 = api_cpu(api)
        r = wrk(port, HOME, cold_tokens, args.connections, args.duration)
        r["cpu_ms"] = (api_cpu(api) - cpu0) / max(1.0, r["requests"]) * 1000
        r["load"] = os.getloadavg()[0]
        cold_label = f"home-screen sequence, cold (first home screen of {len(cold_pairs)} customers)"
        if r["requests"] > len(cold_pairs) * len(HOME):
            cold_label += " (some read twice: use more --cold-users)"
        cold = (cold_label, r)
        print(f"  measured {cold_label}: {r['rps']:.0f} req/s", flush=True)
        # then the steady state, every case alike: the cached answers dropped, every caller's answers
        # of the case cached again (--fill / 3 s), then measured — all its entries younger than the
        # shortest entry life (45 s), so no wave of expiries falls into the measure
        for label, paths in cases:
            if paths != ["/health"]:
                drop_cached_answers(env["SAMACONSO_REDIS_URL"])
                wrk(port, paths, tokens, args.connections, max(3, args.fill // 3))
            cpu0 = api_cpu(api)
            r = wrk(port, paths, tokens, args.connections, args.duration)
            cpu = api_cpu(api) - cpu0
            r["cpu_ms"] = cpu / max(1.0, r["requests"]) * 1000
            r["load"] = os.getloadavg()[0]
            rows.append((label, r))
            print(f"  measured {label}: {r['rps']:.0f} req/s", flush=True)
        rows.append(cold)
        health = rows[0][1]["rps"]
        print()
        print(
            f"wrk -c{args.connections} -d{args.duration}s, {args.workers} API processes, PgBouncer transaction "
            f"mode, {len(pairs)} rotating tokens; {os.cpu_count()} cores; uptime load "
            + " / ".join(f"{x:.2f}" for x in os.getloadavg())
        )
        print()
        print("| route | req/s | % of /health | p50 | p99 | errors | API CPU/request | load |")
        print("|---|---|---|---|---|---|---|---|")
        for label, r in rows:
            print(
                f"| `{label}` | {r['rps']:,.0f} | {100 * r['rps'] / health:.0f} % | {r['p50'] / 1000:.1f} ms "
                f"| {r['p99'] / 1000:.1f} ms | {int(r['errors'])} | {r['cpu_ms']:.2f} ms | {r['load']:.1f} |"
            )
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        empty_redis(redis_url)
        if not args.keep:
            with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
                for name in (db, legacy_db):
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
