"""The ``samaconso`` command.

    samaconso run                      everything on embedded services (what ``make run`` calls)
    samaconso api [--port 8001]        one API process (production: behind the load balancer)
    samaconso worker --queues urgent,high_priority [--concurrency 4] [--beat]
    samaconso beat                     the periodic-task scheduler (one per platform)
    samaconso flower                   Celery monitoring UI with basic auth
    samaconso migrate                  alembic upgrade head
    samaconso seed                     demo data (idempotent)
    samaconso outbox [--channel sms]   the latest SMS/push messages captured in embedded mode
    samaconso check-config             list what would stop production from starting

Domains add their own sub-commands in ``samaconso.<domain>.cli`` (a ``register(subparsers)``).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from samaconso import domains
from samaconso.embedded.runner import run_embedded
from samaconso.provision import alembic_config, migrate, run_seeders
from samaconso.settings import InsecureSettingsError, Settings, get_settings

__all__ = ["alembic_config", "build_parser", "main", "migrate", "run_seeders"]


def _settings_or_exit() -> Settings:
    try:
        return get_settings()
    except InsecureSettingsError as exc:
        print(
            "SamaConso refuse de démarrer en production / refusing to start in production:", file=sys.stderr
        )
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_api(args: argparse.Namespace) -> None:
    import uvicorn

    from samaconso.settings import is_loopback

    settings = _settings_or_exit()
    host = args.host or ("127.0.0.1" if settings.profile == "embedded" else "0.0.0.0")  # noqa: S104
    if settings.profile == "embedded" and not is_loopback(host):
        print(
            f"Le profil embarqué n'écoute que sur la boucle locale (127.0.0.1), pas sur {host} : "
            "ses secrets sont des secrets de démonstration. / The embedded profile only listens on "
            f"loopback, not {host}: its secrets are for a demo. Use SAMACONSO_PROFILE=production.",
            file=sys.stderr,
        )
        raise SystemExit(2)
    os.environ.setdefault("SAMACONSO_INSTANCE_NAME", f"api-{args.port}")
    uvicorn.run(
        "samaconso.app:create_app",
        factory=True,
        host=host,
        port=args.port,
        workers=args.workers,
        proxy_headers=True,
        forwarded_allow_ips=args.forwarded_allow_ips,
        log_config=None,
        access_log=False,
        server_header=False,  # no "server: uvicorn" banner
        timeout_graceful_shutdown=20,
        log_level=settings.log_level.lower(),
    )


def _celery_argv(args: argparse.Namespace) -> list[str]:
    from samaconso.worker import QUEUES

    queues = QUEUES if args.queues in ("all", "*") else tuple(q.strip() for q in args.queues.split(","))
    unknown = [q for q in queues if q not in QUEUES]
    if unknown:
        raise SystemExit(f"unknown queue(s): {', '.join(unknown)} (known: {', '.join(QUEUES)})")
    argv = [
        "worker",
        "--loglevel",
        args.loglevel,
        "-Q",
        ",".join(queues),
        "-c",
        str(args.concurrency),
        "-n",
        args.name,
        "--without-gossip",
        "--without-mingle",
    ]
    if args.pool:
        argv += ["-P", args.pool]
    if args.beat:
        argv += ["-B", "-s", str(Path(_settings_or_exit().data_dir) / "celerybeat-schedule")]
    if args.quiet:
        argv = ["--quiet", *argv]
    return argv


def cmd_worker(args: argparse.Namespace) -> None:
    _settings_or_exit()
    from samaconso.worker import celery_app, install_logging_hook
    from samaconso.worker_wiring import install_process_hooks

    install_logging_hook()
    install_process_hooks()
    if args.quiet:
        # ``samaconso run`` as root on a developer's machine: Celery's banner and its warning about
        # running as root would bury the lines people need. The worker behaves the same.
        warnings.filterwarnings("ignore", message=".*superuser privileges", module="celery")
    if args.ready_file:
        from celery.signals import worker_ready

        ready_file = Path(args.ready_file)
        worker_ready.connect(lambda **_: ready_file.touch(), weak=False)

    celery_app.worker_main(_celery_argv(args))


def cmd_beat(args: argparse.Namespace) -> None:
    settings = _settings_or_exit()
    from samaconso.worker import celery_app, install_logging_hook

    install_logging_hook()
    celery_app.start(
        ["beat", "--loglevel", args.loglevel, "-s", str(settings.data_dir / "celerybeat-schedule")]
    )


def cmd_flower(args: argparse.Namespace) -> None:
    settings = _settings_or_exit()
    from samaconso.worker import celery_app, install_logging_hook

    install_logging_hook()
    auth = f"{settings.flower_user}:{settings.flower_password.get_secret_value()}"
    celery_app.start(["flower", f"--port={args.port}", f"--address={args.host}", f"--basic-auth={auth}"])


def cmd_migrate(args: argparse.Namespace) -> None:
    _settings_or_exit()
    migrate()
    print("base de données à jour / database up to date")


def cmd_seed(args: argparse.Namespace) -> None:
    settings = _settings_or_exit()
    for line in asyncio.run(run_seeders(settings)):
        print(line)


def cmd_outbox(args: argparse.Namespace) -> None:
    from samaconso.kit.sinks import JsonlSink

    settings = get_settings()
    channels = [args.channel] if args.channel else ["sms", "push"]
    for channel in channels:
        records = JsonlSink(settings.outbox_dir, channel, echo=False).tail(args.n)
        print(f"== {channel} ({settings.outbox_dir / (channel + '.jsonl')}) ==")
        if not records:
            print("  (vide / empty)")
        for rec in records:
            print("  " + json.dumps(rec, ensure_ascii=False))


def cmd_check_config(args: argparse.Namespace) -> None:
    settings = Settings(profile="embedded")
    problems = settings.security_problems()
    for warning in settings.model_copy(update={"profile": "production"}).deployment_warnings():
        print(f"! {warning}")
    if not problems:
        print("configuration OK for production")
        return
    for problem in problems:
        print(f"- {problem}")
    raise SystemExit(1)


def cmd_run(args: argparse.Namespace) -> None:
    run_embedded(api_port=args.port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="samaconso", description="SamaConso backend")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="start everything on embedded services")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("api", help="run one API process")
    p.add_argument(
        "--host", default=None, help="default: 127.0.0.1 (embedded, loopback only), 0.0.0.0 (production)"
    )
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--forwarded-allow-ips", default="127.0.0.1")
    p.set_defaults(func=cmd_api)

    p = sub.add_parser("worker", help="run a Celery worker")
    p.add_argument(
        "--queues", default="all", help="comma-separated: urgent,high_priority,normal,low_priority"
    )
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--name", default="worker@%h")
    p.add_argument("--pool", default=None, help="prefork (default), threads, solo")
    p.add_argument("--beat", action="store_true", help="also run the periodic scheduler")
    p.add_argument("--loglevel", default="INFO")
    p.add_argument("--quiet", action="store_true", help="no Celery banner, no warning about root")
    p.add_argument("--ready-file", default=None, help="file created once the worker consumes its queues")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("beat", help="run the periodic-task scheduler")
    p.add_argument("--loglevel", default="INFO")
    p.set_defaults(func=cmd_beat)

    p = sub.add_parser("flower", help="Celery monitoring UI (basic auth)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5555)
    p.set_defaults(func=cmd_flower)

    sub.add_parser("migrate", help="alembic upgrade head").set_defaults(func=cmd_migrate)
    sub.add_parser("seed", help="load demo data").set_defaults(func=cmd_seed)
    sub.add_parser("check-config", help="list production blockers").set_defaults(func=cmd_check_config)

    p = sub.add_parser("outbox", help="latest SMS/push captured in embedded mode")
    p.add_argument("--channel", choices=["sms", "push"])
    p.add_argument("-n", type=int, default=10)
    p.set_defaults(func=cmd_outbox)

    for name in domains.modules("cli"):
        module = importlib.import_module(name)
        register: Callable[[Any], None] = module.register
        register(sub)
    return parser


def _prepare_worker_metrics() -> None:
    """``samaconso worker`` with a metrics port: prometheus_client's multiprocess directory is set
    before the domain commands (below) import it — its value class is chosen at import."""
    try:
        settings = get_settings()
    except InsecureSettingsError:
        return  # cmd_worker reports the problems
    from samaconso.kit.worker_metrics import prepare_multiprocess_dir

    prepare_multiprocess_dir(settings)


def main(argv: Sequence[str] | None = None) -> None:
    if list(sys.argv[1:] if argv is None else argv)[:1] == ["worker"]:
        _prepare_worker_metrics()
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
