"""Monitoring without a blind spot: what Prometheus scrapes (API, workers, Flower), that every metric
an alert or a dashboard panel reads is one the code exports, and the alerts of issue 16."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

import samaconso.notifications.realtime  # noqa: F401 - defines the outbox and broadcast gauges
from samaconso.kit.metrics import REGISTRY
from samaconso.kit.worker_metrics import metrics_app
from samaconso.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
# Written by the backup host's textfile collector scripts, not by the application.
TEXTFILE_SCRIPTS = ("samaconso-backup-metrics.sh", "samaconso-s3-mirror.sh")


def jobs() -> dict[str, Any]:
    cfg = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    return {j["job_name"]: j for j in cfg["scrape_configs"]}


def alert_exprs() -> dict[str, str]:
    rules = yaml.safe_load((MONITORING / "rules" / "samaconso-alerts.yml").read_text())
    return {r["alert"]: r["expr"] for g in rules["groups"] for r in g["rules"]}


def dashboard_exprs() -> dict[str, str]:
    dash = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    return {p["title"]: " ".join(t["expr"] for t in p["targets"]) for p in dash["panels"]}


def exported_sample_names() -> set[str]:
    names: set[str] = set()
    for family in REGISTRY.collect():
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}.get(
            family.type, ("",)
        )
        names |= {family.name + s for s in suffixes}
    return names


def test_workers_and_flower_are_scraped_where_compose_and_the_firewall_put_them() -> None:
    scraped = jobs()
    worker = scraped["samaconso_worker"]
    assert worker["authorization"]["credentials_file"].endswith("samaconso_metrics_token")
    by_name = {
        sc["labels"]["instance_name"]: sc["targets"][0].split(":")[1] for sc in worker["static_configs"]
    }
    compose = yaml.safe_load((ROOT / "deploy" / "docker-compose.workers.yml").read_text())["services"]
    for name, port in by_name.items():
        env = compose[name]["environment"]
        assert env["SAMACONSO_WORKER_METRICS_PORT"] == port, name
        assert env["SAMACONSO_WORKER_METRICS_HOST"] == "0.0.0.0"
    assert sorted(by_name) == ["worker_1", "worker_2"]
    assert scraped["flower"]["static_configs"][0]["targets"] == ["10.20.0.13:5555"]
    firewall = (ROOT / "deploy" / "firewall" / "server3-workers.nft").read_text()
    admin = next(ln for ln in firewall.splitlines() if "$ADMIN_NET" in ln and "dport" in ln)
    for port in by_name.values():
        assert re.search(rf"\b{port}\b", admin), f"port {port} not opened to the administration network"


def test_every_samaconso_metric_read_by_alerts_and_panels_is_exported_by_the_code() -> None:
    exported = exported_sample_names()
    textfile = " ".join((ROOT / "deploy" / "backup-host" / n).read_text() for n in TEXTFILE_SCRIPTS)
    read = set()
    for expr in [*alert_exprs().values(), *dashboard_exprs().values()]:
        read |= set(re.findall(r"(?<![\"\w])samaconso_[a-z0-9_]+", expr))  # not job="samaconso_api"
    missing = sorted(n for n in read if n not in exported and n not in textfile)
    assert missing == [], f"alerts/panels read metrics nobody exports: {missing}"
    for name in (
        "samaconso_fcm_messages_total",
        "samaconso_fcm_retries_total",
        "samaconso_sms_messages_total",
        "samaconso_sms_retries_total",
        "samaconso_circuit_open",
    ):
        assert name in exported, name


def test_issue_16_alerts_and_panels() -> None:
    exprs = alert_exprs()
    assert "samaconso_notification_outbox_pending" in exprs["SamaConsoOutboxBacklog"]
    assert "samaconso_notification_oldest_unfinished_broadcast_seconds" in exprs["SamaConsoBroadcastStuck"]
    assert 'up{job="samaconso_worker"}' in exprs["SamaConsoWorkerMetricsDown"]
    assert "flower_worker_online" in exprs["SamaConsoWorkerOffline"]
    assert "samaconso_sms_messages_total" in exprs["SamaConsoSmsFailing"]
    assert "samaconso_fcm_messages_total" in exprs["SamaConsoPushFailures"]
    panels = dashboard_exprs()
    fcm = [t for t, e in panels.items() if "samaconso_fcm_messages_total" in e]
    sms = [t for t, e in panels.items() if "samaconso_sms_messages_total" in e]
    assert any(t.startswith("FCM") for t in fcm), fcm
    assert any(t.startswith("SMS") for t in sms), sms


def _call(settings: Settings, environ: dict[str, Any]) -> tuple[str, dict[str, str], bytes]:
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(metrics_app(settings)({"PATH_INFO": "/metrics", **environ}, start_response))
    return seen["status"], seen["headers"], body


def test_worker_endpoint_without_a_token_answers_loopback_only() -> None:
    settings = Settings(metrics_token=None)
    status, headers, body = _call(settings, {"REMOTE_ADDR": "10.20.99.10"})
    assert status.startswith("403")
    assert headers["Content-Type"] == "application/problem+json"
    assert json.loads(body)["detail"] == "Métriques accessibles en local uniquement."
    status, _, body = _call(settings, {"REMOTE_ADDR": "10.20.99.10", "HTTP_ACCEPT_LANGUAGE": "en-GB"})
    assert json.loads(body)["detail"] == "Metrics are local only."
    status, _, _ = _call(settings, {"PATH_INFO": "/other", "REMOTE_ADDR": "127.0.0.1"})
    assert status.startswith("404")


def test_worker_endpoint_with_a_token_refuses_any_other() -> None:
    settings = Settings(metrics_token=SecretStr("t" * 48))
    status, _, _ = _call(settings, {"REMOTE_ADDR": "127.0.0.1", "HTTP_AUTHORIZATION": "Bearer " + "u" * 48})
    assert status.startswith("401")
    status, _, _ = _call(settings, {"REMOTE_ADDR": "127.0.0.1", "HTTP_AUTHORIZATION": "Basic dDp0"})
    assert status.startswith("401")


def test_worker_endpoint_outside_multiprocess_mode_serves_this_process_metrics(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    status, headers, body = _call(Settings(metrics_token=None), {"REMOTE_ADDR": "127.0.0.1"})
    assert status.startswith("200")
    assert "text/plain" in headers["Content-Type"]
    assert b"samaconso_fcm_messages_total" in body  # (HELP/TYPE even before any send)
