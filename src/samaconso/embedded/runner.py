"""``samaconso run``: the whole system on this machine, no server installed by hand.

PostgreSQL, Redis and S3 come from Python wheels and keep their data in ``./.samaconso/``. The
API listens on http://127.0.0.1:8000 and one worker consumes the four queues (with the periodic
scheduler). Ctrl-C stops every process started here.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from types import FrameType

from samaconso.embedded.procs import ManagedProcess, port_open, wait_for
from samaconso.embedded.services import ensure_database, start_postgres, start_redis, start_seaweedfs
from samaconso.settings import get_settings

PG_PORT = 54329
REDIS_PORT = 63790
S3_PORT = 8333


def _banner(api_port: int, demo_lines: list[str]) -> str:
    base = f"http://127.0.0.1:{api_port}"
    lines = [
        "",
        "=" * 72,
        " SamaConso tourne / is running",
        f"   API            {base}/api/v1",
        f"   Documentation  {base}/docs",
        f"   Santé / health {base}/health  ·  {base}/health/ready",
        "   SMS et push    .samaconso/outbox/*.jsonl  (samaconso outbox)",
        "",
        " Comptes de démonstration / demo accounts:",
        *[f"   {line}" for line in demo_lines],
        "",
        " Ctrl-C arrête tout / stops everything.",
        "=" * 72,
        "",
    ]
    return "\n".join(lines)


def run_embedded(api_port: int = 8000) -> None:
    settings = get_settings()
    if settings.profile != "embedded":
        raise SystemExit(
            "samaconso run is for the embedded profile; use 'samaconso api' and 'worker' in production"
        )
    data = settings.data_dir.resolve()
    logs = data / "logs"
    busy = [str(p) for p in (PG_PORT, REDIS_PORT, S3_PORT, api_port) if port_open("127.0.0.1", p)]
    if busy:
        raise SystemExit(f"port(s) already in use: {', '.join(busy)} — is another 'samaconso run' active?")

    started: list[ManagedProcess] = []
    stopping = False

    def stop_all(*_: object) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        print("\nArrêt en cours / stopping…", file=sys.stderr, flush=True)
        for proc in reversed(started):
            proc.stop()
        print("Tout est arrêté / everything stopped.", file=sys.stderr, flush=True)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop_all()
        raise SystemExit(0)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        print("Démarrage de PostgreSQL, Redis et S3 (embarqués)…", file=sys.stderr, flush=True)
        started.append(start_postgres(data / "postgres", PG_PORT, logs / "postgres.log"))
        ensure_database(PG_PORT, "samaconso", "samaconso")
        started.append(start_redis(data / "redis", REDIS_PORT, logs / "redis.log"))
        started.append(
            start_seaweedfs(
                data / "s3",
                S3_PORT,
                logs / "s3.log",
                settings.s3_access_key,
                settings.s3_secret_key.get_secret_value(),
                (settings.s3_bucket_avatars, settings.s3_bucket_documents),
            )
        )
        from samaconso.cli import migrate, run_seeders

        print("Migrations…", file=sys.stderr, flush=True)
        migrate()
        demo_lines = asyncio.run(run_seeders(settings))

        exe = [sys.executable, "-m", "samaconso.cli"]
        api = ManagedProcess(
            "api", [*exe, "api", "--host", "127.0.0.1", "--port", str(api_port)], log_path=logs / "api.log"
        ).start(inherit_output=True)
        started.append(api)
        worker = ManagedProcess(
            "worker",
            [*exe, "worker", "--queues", "all", "--concurrency", "2", "--beat", "--name", "embedded@%h"],
            log_path=logs / "worker.log",
        ).start(inherit_output=True)
        started.append(worker)
        wait_for(lambda: port_open("127.0.0.1", api_port), 60, "API", api)
        print(_banner(api_port, demo_lines), file=sys.stderr, flush=True)
        while not stopping:
            for proc in started:
                if not proc.running:
                    print(
                        f"{proc.name} s'est arrêté / exited; see {proc.log_path}", file=sys.stderr, flush=True
                    )
                    stop_all()
                    raise SystemExit(1)
            time.sleep(1)
    except BaseException:
        stop_all()
        raise
