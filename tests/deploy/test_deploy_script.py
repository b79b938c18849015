"""deploy.sh and rollback.sh drive Docker Compose in the order the runbook promises.

Docker cannot run here: a stand-in ``docker`` on PATH records every call and answers ``ps``/``inspect``
like the real CLI (container ids, health states); the API health endpoints are real HTTP servers."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "deploy" / "scripts"

FAKE_DOCKER = """#!/usr/bin/env bash
# Records the call; answers like the Docker CLI for what deploy.sh reads back.
echo "tag=${SAMACONSO_TAG:-} $*" >> "$DOCKER_LOG"
case "$*" in
  *" ps -q "*) svc="${@: -1}"; echo "cid-$svc" ;;
  "inspect "*) cid="${@: -1}"; var="HEALTH_${cid#cid-}"; echo "${!var:-healthy}" ;;
esac
"""


class Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"status":"running","version":"3.1.0"}')

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[dict[str, str]]:
    servers = [HTTPServer(("127.0.0.1", 0), Health) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "docker").write_text(FAKE_DOCKER)
    (bindir / "docker").chmod(0o755)
    remote = tmp_path / "opt-samaconso"
    remote.mkdir()
    env = {
        "PATH": f"{bindir}:{os.environ['PATH']}",
        "DOCKER_LOG": str(tmp_path / "docker.log"),
        "API_HOST": "local",
        "WORKERS_HOST": "local",
        "API_ADDR": "127.0.0.1",
        "API_1_PORT": str(servers[0].server_address[1]),
        "API_2_PORT": str(servers[1].server_address[1]),
        "REMOTE_DIR": str(remote),
        "DRAIN_SECONDS": "0",
        "LB_SETTLE_SECONDS": "0",
        "HEALTH_TIMEOUT": "4",
        "POST_DEPLOY_CHECK": "true",
        "SAMACONSO_IMAGE": "registry.example/samaconso/api",
    }
    yield env
    for server in servers:
        server.shutdown()


def run(script: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPTS / script), *args], env=env, capture_output=True, text=True, timeout=120
    )


def calls(env: dict[str, str]) -> list[str]:
    return Path(env["DOCKER_LOG"]).read_text().splitlines()


def index(lines: list[str], fragment: str) -> int:
    return next(i for i, line in enumerate(lines) if fragment in line)


def test_deploy_migrates_once_then_restarts_api_1_then_api_2_then_workers(platform: dict[str, str]) -> None:
    res = run("deploy.sh", platform, "3.1.0")
    assert res.returncode == 0, res.stdout + res.stderr
    lines = calls(platform)
    migrate = index(lines, "run --rm --no-deps migrate")
    api_1 = index(lines, "up -d --no-deps --force-recreate api_1")
    api_1_health = index(lines, "inspect -f {{.State.Health.Status}} cid-api_1")
    api_2 = index(lines, "up -d --no-deps --force-recreate api_2")
    workers = index(lines, "up -d --no-deps worker_1 worker_2 beat flower")
    assert migrate < api_1 < api_1_health < api_2 < workers
    assert sum("migrate" in line and " run " in f" {line}" for line in lines) == 1
    assert all(
        "docker-compose.production.yml" in line for line in lines[migrate : api_2 + 1] if "compose" in line
    )
    assert "docker-compose.workers.yml" in lines[workers]
    assert all(line.startswith("tag=3.1.0 ") for line in lines if "compose" in line)
    assert (Path(platform["REMOTE_DIR"]) / "releases" / "current").read_text().strip() == "3.1.0"


def test_api_2_is_never_touched_when_api_1_stays_unhealthy(platform: dict[str, str]) -> None:
    res = run("deploy.sh", {**platform, "HEALTH_api_1": "unhealthy"}, "3.1.0")
    assert res.returncode == 1
    assert "api_1 ne démarre pas" in res.stdout
    lines = calls(platform)
    assert any("force-recreate api_1" in line for line in lines)
    assert not any("api_2" in line and " up " in f" {line}" for line in lines)
    assert not any("worker_1" in line for line in lines if " up " in f" {line}")
    assert not (Path(platform["REMOTE_DIR"]) / "releases" / "current").exists(), (
        "a failed release is not recorded"
    )


def test_rollback_redeploys_the_previous_tag_without_migrations(platform: dict[str, str]) -> None:
    assert run("deploy.sh", platform, "3.0.0").returncode == 0
    assert run("deploy.sh", platform, "3.1.0").returncode == 0
    Path(platform["DOCKER_LOG"]).write_text("")
    res = run("rollback.sh", platform)
    assert res.returncode == 0, res.stdout + res.stderr
    lines = calls(platform)
    assert not any("migrate" in line and " run " in f" {line}" for line in lines)
    assert all(line.startswith("tag=3.0.0 ") for line in lines if "compose" in line)
    releases = Path(platform["REMOTE_DIR"]) / "releases"
    assert (releases / "current").read_text().strip() == "3.0.0"
    assert "3.1.0" in (releases / "history").read_text()
    assert run("rollback.sh", platform, "3.0.0").returncode == 1, "already in service"
