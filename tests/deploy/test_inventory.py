"""One inventory (deploy/inventory.conf) drives deploy.sh, rollback.sh, healthcheck.sh and the
Prometheus targets: a server added there shows up in all four.

Docker and SSH cannot run here: stand-ins on PATH record each call with the server it was for (the
``ssh`` stand-in runs the command locally); the API health endpoints are real HTTP servers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SCRIPTS = DEPLOY / "scripts"

FAKE_DOCKER = """#!/usr/bin/env bash
echo "host=${FAKE_HOST:-local} tag=${SAMACONSO_TAG:-} $*" >> "$DOCKER_LOG"
case "$*" in
  *" ps -q "*) echo "cid-${@: -1}" ;;
  "inspect "*) echo healthy ;;
esac
"""
FAKE_SSH = """#!/usr/bin/env bash
dest="${@: -2:1}"
FAKE_HOST="${dest#*@}" exec bash -c "${@: -1}"
"""


class Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"status":"running"}')

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def grown(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The repository's inventory plus a third API on a new server ``srv4`` and a third worker on a
    new server ``srv5``; every API instance answers /health on loopback."""
    servers = [HTTPServer(("127.0.0.1", 0), Health) for _ in range(3)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    ports = [str(s.server_address[1]) for s in servers]
    rows = (DEPLOY / "inventory.conf").read_text().splitlines()
    out = []
    for line in rows:
        fields = line.split()
        if fields and fields[0] == "api":  # the existing API instances, reachable here
            port = ports[int(fields[1][-1]) - 1]
            line = f"api {fields[1]} local 127.0.0.1 {port} {fields[5]}"
        elif fields and fields[0] in ("worker", "beat", "flower"):
            line = f"{fields[0]} {fields[1]} local 127.0.0.1 {fields[4]} {fields[5]}"
        out.append(line)
    out += [f"api api_3 srv4 127.0.0.1 {ports[2]} api_1", "worker worker_3 srv5 127.0.0.1 9810 worker_1"]
    inventory = tmp_path / "inventory.conf"
    inventory.write_text("\n".join(out) + "\n")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name, text in (("docker", FAKE_DOCKER), ("ssh", FAKE_SSH)):
        (bindir / name).write_text(text)
        (bindir / name).chmod(0o755)
    remote = tmp_path / "opt-samaconso"
    remote.mkdir()
    yield {
        "PATH": f"{bindir}:{os.environ['PATH']}",
        "DOCKER_LOG": str(tmp_path / "docker.log"),
        "INVENTORY": str(inventory),
        "REMOTE_DIR": str(remote),
        "DRAIN_SECONDS": "0",
        "LB_SETTLE_SECONDS": "0",
        "HEALTH_TIMEOUT": "4",
        "POST_DEPLOY_CHECK": "true",
        "SAMACONSO_IMAGE": "registry.example/samaconso/api",
    }
    for server in servers:
        server.shutdown()


def run(script: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPTS / script), *args], env=env, capture_output=True, text=True, timeout=120
    )


def calls(env: dict[str, str]) -> list[str]:
    return Path(env["DOCKER_LOG"]).read_text().splitlines()


def first(lines: list[str], *fragments: str) -> int:
    return next(i for i, line in enumerate(lines) if all(f in line for f in fragments))


def test_prometheus_targets_are_those_of_the_inventory() -> None:
    res = subprocess.run(
        [sys.executable, str(SCRIPTS / "make-prometheus-targets.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr


def test_deploy_and_rollback_reach_the_added_servers(grown: dict[str, str]) -> None:
    res = run("deploy.sh", grown, "3.1.0")
    assert res.returncode == 0, res.stdout + res.stderr
    lines = calls(grown)
    assert first(lines, "host=srv4", "pull --quiet migrate api_1") < first(
        lines, "run --rm --no-deps migrate"
    )
    assert first(lines, "host=srv5", "pull --quiet worker_1")
    api_2 = first(lines, "host=local", "up -d --no-deps --force-recreate api_2")
    api_3 = first(lines, "host=srv4", "up -d --no-deps --force-recreate api_1")
    health_3 = first(lines, "host=srv4", "inspect")
    workers_5 = first(lines, "host=srv5", "up -d --no-deps worker_1")
    assert api_2 < api_3 < health_3 < workers_5
    assert "host=local" in lines[first(lines, "up -d --no-deps worker_1 worker_2 beat flower")]
    assert sum(" run --rm --no-deps migrate" in line for line in lines) == 1
    assert "host=local" in lines[first(lines, "run --rm --no-deps migrate")]  # the first API's server
    assert "api_3 (api_1 sur srv4)" in res.stdout

    assert run("deploy.sh", grown, "3.2.0").returncode == 0
    Path(grown["DOCKER_LOG"]).write_text("")
    back = run("rollback.sh", grown)
    assert back.returncode == 0, back.stdout + back.stderr
    lines = calls(grown)
    assert "tag=3.1.0" in lines[first(lines, "host=srv4", "force-recreate api_1")]
    assert "tag=3.1.0" in lines[first(lines, "host=srv5", "up -d --no-deps worker_1")]


def test_healthcheck_checks_every_instance_of_the_inventory(grown: dict[str, str]) -> None:
    res = run("healthcheck.sh", {**grown, "SRV_DATA": "127.0.0.1"})
    lines = res.stdout.splitlines()
    for name in ("api_1", "api_2", "api_3"):
        assert any(line.split()[:2] == ["OK", name] and "/health" in line for line in lines), name
    assert any("api_3 /health" in line and "127.0.0.1" in line for line in lines)
    for name in ("worker_1", "worker_2", "worker_3"):
        assert any(f"{name} /metrics" in line for line in lines), name
    assert "API (3 instance(s))" in res.stdout
    assert "Workers (3 instance(s))" in res.stdout


def test_the_prometheus_generator_adds_the_new_servers(grown: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "prometheus.yml"
    shutil.copy(DEPLOY / "monitoring" / "prometheus.yml", config)
    res = subprocess.run(
        [sys.executable, str(SCRIPTS / "make-prometheus-targets.py"), "--inventory", grown["INVENTORY"],
         "--config", str(config)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    jobs = {j["job_name"]: j for j in yaml.safe_load(config.read_text())["scrape_configs"]}

    def scraped(job: str) -> dict[str, str]:
        return {
            sc["labels"].get("instance_name", sc["labels"]["server"]): sc["targets"][0]
            for sc in jobs[job]["static_configs"]
        }

    assert set(scraped("samaconso_api")) == {"api_1", "api_2", "api_3"}
    assert scraped("samaconso_worker")["worker_3"] == "127.0.0.1:9810"
    assert set(scraped("samaconso_worker")) == {"worker_1", "worker_2", "worker_3"}
    assert scraped("node")["srv-data"] == "10.20.0.11:9100"  # server 1, outside the inventory, is kept
    check = subprocess.run(
        [sys.executable, str(SCRIPTS / "make-prometheus-targets.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, "the repository's own file is untouched"
