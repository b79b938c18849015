"""The worker's Prometheus endpoint: one port per ``samaconso worker``, every pool process summed.

Celery's prefork pool runs tasks in child processes, each with its own counters. prometheus_client's
multiprocess mode makes every process write its values into files of one directory
(``PROMETHEUS_MULTIPROC_DIR``, fresh at each start), and the worker's main process serves their sum
on ``worker_metrics_host:worker_metrics_port`` (FCM and SMS sends, failures, retries, dead tokens,
breaker states). The directory must be set before ``prometheus_client`` is imported: the ``worker``
command calls :func:`prepare_multiprocess_dir` first thing.

Access: the bearer token of the API's ``/metrics`` (``SAMACONSO_METRICS_TOKEN``) when it is set,
otherwise loopback clients only.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from samaconso.kit.security import constant_time_equals
from samaconso.settings import Settings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_LOOPBACK = ("127.0.0.1", "::1")

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def prepare_multiprocess_dir(settings: Settings) -> Path | None:
    """Point prometheus_client at an empty directory of this worker's own (None: endpoint off).

    An operator-set ``PROMETHEUS_MULTIPROC_DIR`` is emptied of the previous run's files; otherwise a
    private temporary directory is made (two workers on one host never share one)."""
    if settings.worker_metrics_port is None:
        return None
    if "prometheus_client.values" in sys.modules and os.environ.get(MULTIPROC_ENV) is None:
        raise RuntimeError("prometheus_client was imported before the worker metrics directory was set")
    configured = os.environ.get(MULTIPROC_ENV)
    if configured:
        directory = Path(configured)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
    else:
        directory = Path(tempfile.mkdtemp(prefix="samaconso-worker-metrics-"))
        os.environ[MULTIPROC_ENV] = str(directory)
    return directory


def _problem(status: str, code: str, fr: str, en: str, english: bool) -> tuple[str, bytes]:
    title, _, _ = status.partition(" ")
    body = {"type": "about:blank", "status": int(title), "code": code, "detail": en if english else fr}
    return status, json.dumps(body, ensure_ascii=False).encode()


def metrics_app(settings: Settings) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """The WSGI application of the endpoint (``GET /metrics``)."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

    expected = settings.metrics_token.get_secret_value() if settings.metrics_token else None

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        english = str(environ.get("HTTP_ACCEPT_LANGUAGE", "")).lower().startswith("en")
        refusal: tuple[str, bytes] | None = None
        if environ.get("PATH_INFO") not in ("/metrics", "/"):
            refusal = _problem("404 Not Found", "not_found", "Ressource introuvable.", "Not found.", english)
        elif expected:
            scheme, _, given = str(environ.get("HTTP_AUTHORIZATION", "")).partition(" ")
            if scheme.lower() != "bearer" or not constant_time_equals(given.strip(), expected):
                refusal = _problem(
                    "401 Unauthorized",
                    "unauthenticated",
                    "Jeton de supervision requis.",
                    "Metrics token required.",
                    english,
                )
        elif environ.get("REMOTE_ADDR") not in _LOOPBACK:
            refusal = _problem(
                "403 Forbidden",
                "forbidden",
                "Métriques accessibles en local uniquement.",
                "Metrics are local only.",
                english,
            )
        if refusal is not None:
            start_response(refusal[0], [("Content-Type", "application/problem+json")])
            return [refusal[1]]
        if os.environ.get(MULTIPROC_ENV):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        else:  # started without ``samaconso worker`` (solo pool, tests): this process's own values
            from samaconso.kit.metrics import REGISTRY as registry
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
        return [generate_latest(registry)]

    return app


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return  # access lines would be plain text among the JSON logs


class MetricsEndpoint:
    """The HTTP server of the endpoint, served by a daemon thread of the worker's main process."""

    def __init__(self, settings: Settings) -> None:
        if settings.worker_metrics_port is None:
            raise ValueError("worker_metrics_port is not set")
        self._server = make_server(
            settings.worker_metrics_host,
            settings.worker_metrics_port,
            metrics_app(settings),
            server_class=_ThreadingServer,
            handler_class=_QuietHandler,
        )
        self._server.timeout = 5
        self._thread = threading.Thread(target=self._server.serve_forever, name="worker-metrics", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> MetricsEndpoint:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def forget_process(pid: int) -> None:
    """A pool process ends: its live gauges (breaker states) stop counting; counters stay summed."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
