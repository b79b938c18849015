"""The Celery application: four priority queues, one routing table, safe acknowledgement settings.

Queues (DOMAIN §3.5): ``urgent`` (outages, security), ``high_priority`` (one user's transactional
messages), ``normal`` (default), ``low_priority`` (campaigns, broadcasts, housekeeping).
Worker 1 consumes urgent + high_priority, worker 2 normal + low_priority.

Tasks are acknowledged after they ran (``acks_late``) and put back in the queue when the worker
process dies (``reject_on_worker_lost``); each worker process reserves one message at a time
(prefetch 1) so a slow task never holds others hostage. Tasks must therefore be idempotent.
"""

from __future__ import annotations

import fnmatch
import socket
from typing import Any

from celery import Celery, Task
from celery.signals import setup_logging
from kombu import Exchange, Queue

from samaconso import domains
from samaconso.kit.cache import celery_result_backend
from samaconso.kit.logging import configure_logging
from samaconso.settings import Settings, get_settings

QUEUES: tuple[str, ...] = ("urgent", "high_priority", "normal", "low_priority")
DEFAULT_QUEUE = "normal"

# Task name pattern -> queue. First match wins; anything unlisted goes to ``normal``.
TASK_ROUTES: dict[str, str] = {
    "samaconso.system.echo_urgent": "urgent",
    "samaconso.system.echo_high": "high_priority",
    "samaconso.system.echo_low": "low_priority",
    # notifications: fanout/send_batch are published with their notification's queue (explicit
    # queue= wins over this table); the outbox relay runs on urgent so outages never wait behind campaigns.
    "samaconso.notifications.tasks.relay_outbox": "urgent",
    "samaconso.notifications.tasks.fanout*": "low_priority",
    "samaconso.identity.tasks.send_sms*": "urgent",  # sign-up / PIN reset codes: security
    "samaconso.identity.tasks.*": "low_priority",
    "samaconso.files.tasks.*": "low_priority",
    "samaconso.*.tasks.housekeeping*": "low_priority",
}

# Periodic tasks (run by ``samaconso worker --beat`` or ``samaconso beat``): the whole schedule, here.
BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    # documents uploaded > 24 h ago and never attached to a request (files domain)
    "files-purge-unattached": {"task": "samaconso.files.tasks.purge_unattached", "schedule": 3600.0},
    # links/users/devices/notifications figures of every agency and the nation (dashboard domain)
    "dashboard-refresh": {"task": "samaconso.dashboard.tasks.housekeeping_refresh", "schedule": 300.0},
    # prepaid meters at >= 80 % of tranche 1 this month: one alert per meter, user and month (tariffs)
    "tariffs-tranche-alerts": {
        "task": "samaconso.tariffs.tasks.housekeeping_tranche_alerts",
        "schedule": 1800.0,
    },
    # outbox rows the immediate after-commit publish missed (crash, broker outage): notifications
    "notifications-relay-outbox": {"task": "samaconso.notifications.tasks.relay_outbox", "schedule": 5.0},
    # the customers' own monthly kWh / FCFA thresholds: once per user, meter and month (consumption)
    "consumption-alerts": {
        "task": "samaconso.consumption.tasks.housekeeping_consumption_alerts",
        "schedule": 1800.0,
    },
    # access requests to an owner not on the app expire after 30 days (meters domain)
    "meters-expire-access-requests": {
        "task": "samaconso.meters.tasks.housekeeping_expire_access_requests",
        "schedule": 3600.0,
    },
    # devices unused for 30 days are signed out (identity domain)
    "identity-sign-out-idle-devices": {
        "task": "samaconso.identity.tasks.sign_out_idle_devices",
        "schedule": 3600.0,
    },
}


def route_for(name: str) -> str:
    for pattern, queue in TASK_ROUTES.items():
        if fnmatch.fnmatchcase(name, pattern):
            return queue
    return DEFAULT_QUEUE


def _router(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **kw: Any) -> dict[str, str]:
    queue = route_for(name)
    return {"queue": queue, "routing_key": queue}


def make_celery(settings: Settings) -> Celery:
    backend, backend_options = celery_result_backend(settings)  # sentinel:// when sentinels are set
    app = Celery("samaconso", broker=settings.broker_url, backend=backend)
    exchange = Exchange("samaconso", type="direct", durable=True)
    queue_args = {"x-queue-type": "quorum"} if settings.celery_quorum_queues else {}
    app.conf.update(
        task_queues=[
            Queue(name, exchange, routing_key=name, durable=True, queue_arguments=queue_args or None)
            for name in QUEUES
        ],
        task_default_queue=DEFAULT_QUEUE,
        task_default_exchange="samaconso",
        task_default_routing_key=DEFAULT_QUEUE,
        task_routes=(_router,),
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=3600,
        task_time_limit=600,
        task_soft_time_limit=540,
        broker_connection_timeout=5,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"confirm_publish": True, "visibility_timeout": 3600},
        task_publish_retry=True,
        task_publish_retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5},
        worker_send_task_events=True,
        task_send_sent_event=True,
        task_always_eager=settings.celery_task_always_eager,
        timezone="UTC",
        enable_utc=True,
        beat_schedule=BEAT_SCHEDULE,
        worker_hijack_root_logger=False,
    )
    if backend_options:
        app.conf.result_backend_transport_options = backend_options
    return app


celery_app = make_celery(get_settings())


def _periodic_tasks() -> set[str]:
    return {entry["task"] for entry in celery_app.conf.beat_schedule.values()}


def _current_task() -> str | None:
    task = celery_app.current_task
    return task.name if task is not None else None


def configure_worker_logs(settings: Settings) -> None:
    configure_logging(
        settings.log_level,
        settings.log_json,
        process="worker",
        periodic_tasks=_periodic_tasks,
        current_task=_current_task,
    )


def _json_logs(**_: Any) -> None:
    """Workers log JSON lines like the API (Celery's own console format is replaced)."""
    configure_worker_logs(get_settings())


def install_logging_hook() -> None:
    """Called by the ``samaconso worker|beat|flower`` commands before Celery starts (importing this
    module connects nothing): Celery's own console format is replaced by ours."""
    setup_logging.connect(_json_logs, weak=False)


def _echo(task: Task[Any, Any], payload: Any) -> dict[str, Any]:
    info = task.request.delivery_info or {}
    return {"payload": payload, "queue": info.get("routing_key"), "hostname": socket.gethostname()}


# Diagnostic tasks: prove a message reaches the queue its route names (used by health checks and tests).
@celery_app.task(name="samaconso.system.echo", bind=True)
def echo(self: Task[Any, Any], payload: Any = None) -> dict[str, Any]:
    return _echo(self, payload)


@celery_app.task(name="samaconso.system.echo_urgent", bind=True)
def echo_urgent(self: Task[Any, Any], payload: Any = None) -> dict[str, Any]:
    return _echo(self, payload)


@celery_app.task(name="samaconso.system.echo_high", bind=True)
def echo_high(self: Task[Any, Any], payload: Any = None) -> dict[str, Any]:
    return _echo(self, payload)


@celery_app.task(name="samaconso.system.echo_low", bind=True)
def echo_low(self: Task[Any, Any], payload: Any = None) -> dict[str, Any]:
    return _echo(self, payload)


# Every ``samaconso.<domain>.tasks`` module (``samaconso/domains.py``): a worker knows every task.
celery_app.conf.include = domains.modules("tasks")
