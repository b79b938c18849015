"""``samaconso run``: the whole system on this machine, no server installed by hand.

PostgreSQL, Redis and S3 come from Python wheels and keep their data in ``./.samaconso/``. The
API listens on http://127.0.0.1:8000 and one worker consumes the four queues (with the periodic
scheduler). Ctrl-C stops every process started here; the next run starts on the same data.

The ports come from the settings (``SAMACONSO_DATABASE_URL``, ``_REDIS_URL``, ``_BROKER_URL``,
``_S3_ENDPOINT_URL``), so the same command can run a second copy on other ports (the tests do).

The console is for people: progress lines while starting, then the banner (URLs, demo accounts,
where the SMS codes appear) once the API answers ``/health/ready`` and the worker consumes its queues.
After it, one line per request, per task a user caused, per SMS and per push; idle, nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

from samaconso.embedded.procs import ManagedProcess, port_open, wait_for
from samaconso.embedded.services import (
    ensure_database,
    start_postgres,
    start_redis,
    start_seaweedfs,
    stop_leftover_postgres,
)
from samaconso.kit.logging import configure_logging
from samaconso.provision import migrate, run_seeders
from samaconso.settings import Settings, get_settings

LOOPBACK = ("127.0.0.1", "localhost")
API_READY_TIMEOUT_S = 120.0
WORKER_READY_TIMEOUT_S = 120.0
# Children get a console for people, not JSON (JSON stays the default everywhere else).
CHILD_ENV = {"SAMACONSO_LOG_JSON": "false", "PYTHONUNBUFFERED": "1"}


class StartupError(RuntimeError):
    """Something prevents the embedded stack from starting; the message says what to do."""


@dataclass(frozen=True)
class EmbeddedPorts:
    api: int
    postgres: int
    redis: int
    s3: int

    @property
    def all(self) -> dict[str, int]:
        return {"API": self.api, "PostgreSQL": self.postgres, "Redis": self.redis, "S3": self.s3}


def _loopback_port(what: str, setting: str, host: str | None, port: int | None) -> int:
    if host not in LOOPBACK or port is None:
        raise StartupError(
            f"{setting} must point to 127.0.0.1:<port> for 'samaconso run', which starts its own "
            f"{what} there (now: {host}:{port})"
        )
    return port


def embedded_ports(settings: Settings, api_port: int) -> EmbeddedPorts:
    """The ports the embedded servers must listen on so that the API and worker find them."""
    db = urlsplit(settings.database_url)
    redis = urlsplit(settings.redis_url)
    s3 = urlsplit(settings.s3_endpoint_url)
    ports = EmbeddedPorts(
        api=api_port,
        postgres=_loopback_port("PostgreSQL", "SAMACONSO_DATABASE_URL", db.hostname, db.port),
        redis=_loopback_port("Redis", "SAMACONSO_REDIS_URL", redis.hostname, redis.port),
        s3=_loopback_port("S3", "SAMACONSO_S3_ENDPOINT_URL", s3.hostname, s3.port),
    )
    for setting, url in (
        ("SAMACONSO_BROKER_URL", settings.broker_url),
        ("RESULT_BACKEND", settings.result_backend),
    ):
        if url is None:
            continue
        parts = urlsplit(url)
        if parts.scheme != "redis" or parts.hostname not in LOOPBACK or parts.port != ports.redis:
            raise StartupError(
                f"{setting} must use the embedded Redis (redis://127.0.0.1:{ports.redis}/<db>), not {url}"
            )
    return ports


def _banner(api_port: int, outbox: Path, demo_lines: Sequence[str]) -> str:
    base = f"http://127.0.0.1:{api_port}"
    lines = [
        "",
        "=" * 72,
        " SamaConso est prêt / is ready",
        f"   API            {base}/api/v1",
        f"   Documentation  {base}/docs",
        f"   Console agents {base}/console/  (agent.dakar, admin.national)",
        f"   Santé / health {base}/health  ·  {base}/health/ready",
        "   Codes SMS et push : affichés ici (lignes « >>> SMS » et « >>> PUSH »)",
        f"                       et gardés dans {outbox}/ (samaconso outbox)",
        "",
        " Comptes de démonstration / demo accounts:",
        *[f"   {line}" for line in demo_lines],
        "",
        " Ctrl-C arrête tout / stops everything (les données restent / data is kept).",
        "=" * 72,
        "",
    ]
    return "\n".join(lines)


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@contextmanager
def step(what: str) -> Iterator[None]:
    start = time.monotonic()
    say(f"  {what}…")
    yield
    say(f"  {what} : prêt / ready ({time.monotonic() - start:.1f} s)")


def _api_ready(port: int) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=3) as answer:
                return bool(answer.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    return check


def _file_exists(path: Path) -> Callable[[], bool]:
    return path.exists


def _check_data_dir(data: Path) -> None:
    data.mkdir(parents=True, exist_ok=True)
    if not os.access(data, os.W_OK | os.X_OK):
        raise StartupError(
            f"{data} is not writable by this user: run as its owner, or choose SAMACONSO_DATA_DIR"
        )


class Stack:
    """The processes of one ``samaconso run``; stopped in two waves (app, then data servers)."""

    def __init__(self) -> None:
        self.servers: list[ManagedProcess] = []  # PostgreSQL, Redis, S3
        self.apps: list[ManagedProcess] = []  # API, worker
        self.stopping = False

    @property
    def processes(self) -> list[ManagedProcess]:
        return [*self.servers, *self.apps]

    def stop(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        # Further Ctrl-C while stopping would interrupt the stop itself and leave servers behind.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, lambda *_: say("  arrêt déjà en cours / already stopping…"))
        if not self.processes:
            return
        say("\nArrêt en cours / stopping…")
        for wave, timeout_s in ((self.apps, 25.0), (self.servers, 30.0)):
            for proc in wave:
                proc.signal()
            for proc in wave:
                proc.wait_stopped(timeout_s)  # signalled once: a second SIGTERM hurries uvicorn
        say("Tout est arrêté, données gardées / everything stopped, data kept.")


def run_embedded(api_port: int = 8000) -> None:
    settings = get_settings()
    if settings.profile != "embedded":
        raise SystemExit(
            "samaconso run is for the embedded profile; use 'samaconso api' and 'worker' in production"
        )
    # The runner's own libraries (seeders, migrations) stay quiet unless asked: it narrates itself.
    debug = logging.getLevelName(settings.log_level.upper()) <= logging.DEBUG
    configure_logging(settings.log_level if debug else "WARNING", json=False, process="run")
    stack = Stack()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    try:
        _start(settings, api_port, stack)
        while True:
            for proc in stack.processes:
                if not proc.running:
                    code = proc.popen.returncode if proc.popen else "?"
                    say(f"{proc.name} s'est arrêté / exited (code {code}); see {proc.where_to_look}")
                    raise SystemExit(1)
            time.sleep(1)
    except StartupError as exc:
        say(f"samaconso run: {exc}")
        raise SystemExit(1) from None
    finally:
        stack.stop()


def _start(settings: Settings, api_port: int, stack: Stack) -> None:
    data = settings.data_dir.absolute()
    logs = data / "logs"
    ports = embedded_ports(settings, api_port)
    _check_data_dir(data)
    stop_leftover_postgres(data / "postgres")
    busy = [f"{name} {port}" for name, port in ports.all.items() if port_open("127.0.0.1", port)]
    if busy:
        raise StartupError(f"port(s) already in use: {', '.join(busy)} — is another 'samaconso run' active?")

    say(f"SamaConso : démarrage / starting (données / data: {data})")
    try:
        with step(f"PostgreSQL 127.0.0.1:{ports.postgres}"):
            stack.servers.append(
                start_postgres(data / "postgres", ports.postgres, logs / "postgres.log", die_with_parent=True)
            )
            db = urlsplit(settings.database_url)
            ensure_database(ports.postgres, db.path.lstrip("/") or "samaconso", db.username or "samaconso")
        with step(f"Redis 127.0.0.1:{ports.redis}"):
            stack.servers.append(
                start_redis(data / "redis", ports.redis, logs / "redis.log", die_with_parent=True)
            )
        with step(f"S3 (SeaweedFS) 127.0.0.1:{ports.s3}"):
            stack.servers.append(
                start_seaweedfs(
                    data / "s3",
                    ports.s3,
                    logs / "s3.log",
                    settings.s3_access_key,
                    settings.s3_secret_key.get_secret_value(),
                    (settings.s3_bucket_avatars, settings.s3_bucket_documents),
                    die_with_parent=True,
                )
            )
    except (RuntimeError, TimeoutError) as exc:
        raise StartupError(str(exc)) from exc
    with step("Migrations et données de démonstration / migrations and demo data"):
        migrate()
        demo_lines = asyncio.run(run_seeders(settings))

    exe = [sys.executable, "-m", "samaconso.cli"]
    with step(f"API http://127.0.0.1:{ports.api} et worker"):
        api = ManagedProcess(
            "api",
            [*exe, "api", "--host", "127.0.0.1", "--port", str(ports.api)],
            log_path=logs / "api.log",
            env={**CHILD_ENV, "SAMACONSO_INSTANCE_NAME": "api"},
            die_with_parent=True,
        ).start(inherit_output=True)
        stack.apps.append(api)
        ready_file = data / "worker.ready"  # written by the worker once it consumes its queues
        ready_file.unlink(missing_ok=True)
        worker = ManagedProcess(
            "worker",
            [
                *exe,
                "worker",
                "--queues",
                "all",
                "--concurrency",
                "2",
                "--beat",
                "--quiet",
                "--ready-file",
                str(ready_file),
                "--name",
                "embedded@%h",
            ],
            log_path=logs / "worker.log",
            env=CHILD_ENV,
            die_with_parent=True,
            signal_group=False,  # warm shutdown: running tasks finish, then the pool stops
        ).start(inherit_output=True)
        stack.apps.append(worker)
        wait_for(_api_ready(ports.api), API_READY_TIMEOUT_S, "API", api)
        wait_for(_file_exists(ready_file), WORKER_READY_TIMEOUT_S, "worker", worker)
    say(_banner(ports.api, settings.outbox_dir.absolute(), demo_lines))
