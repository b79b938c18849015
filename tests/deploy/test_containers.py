"""Servers 2 and 3 as real containers: what the compose files, the image and the secrets promise.

The fast tests read the files the servers run and execute the secrets scripts for real. The end-to-end
test runs ``deploy/rehearsal/containers.py`` (``make rehearsal-containers``): podman engines in network
namespaces, docker-compose up of both compose files, the whole rehearsal scenario (a broadcast
delivered, a rolling restart under traffic, a worker killed mid-broadcast) and deploy.sh. It needs
root, podman, docker-compose and the images of deploy/containers/build-images.sh, and takes about
10 minutes on two cores, so it only runs when SAMACONSO_REHEARSAL_CONTAINERS=1 asks for it (the
whole suite must stay under 20 minutes)."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def compose(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((DEPLOY / name).read_text())
    return doc


@pytest.mark.parametrize("name", ["docker-compose.production.yml", "docker-compose.workers.yml"])
def test_no_service_combines_sysctls_with_host_network(name: str) -> None:
    for service, svc in compose(name)["services"].items():
        if svc.get("network_mode") == "host":
            assert "sysctls" not in svc, f"{service}: the runtime refuses sysctls with network_mode host"


@pytest.mark.parametrize(
    ("name", "service", "variable", "official"),
    [
        ("docker-compose.production.yml", "rabbitmq", "RABBITMQ_IMAGE", "rabbitmq:3.13-management"),
        ("docker-compose.workers.yml", "redis", "REDIS_IMAGE", "redis:7.2"),
    ],
)
def test_infrastructure_runs_as_uid_999_from_a_configurable_image(
    name: str, service: str, variable: str, official: str
) -> None:
    svc = compose(name)["services"][service]
    assert svc["user"] == "999:999"
    assert svc["image"] == f"${{{variable}:-{official}}}"


def test_application_image_user_is_10001_and_python_image_configurable() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "useradd --system --uid 10001" in text
    assert re.search(r"^USER samaconso:samaconso$", text, re.M)
    assert "ARG PYTHON_IMAGE=python:3.11-slim-bookworm" in text
    # The CA bundle of a TLS proxy is a build secret, never a layer.
    assert "COPY" not in "".join(line for line in text.splitlines() if "ca_bundle" in line)


def test_rabbitmq_memory_alarm_is_absolute_and_under_the_container_limit() -> None:
    conf = (DEPLOY / "server2-api" / "rabbitmq" / "rabbitmq.conf").read_text()
    assert "vm_memory_high_watermark.relative" not in conf
    m = re.search(r"^vm_memory_high_watermark\.absolute = (\d+)MiB$", conf, re.M)
    assert m
    limit = compose("docker-compose.production.yml")["services"]["rabbitmq"]["deploy"]["resources"]["limits"]
    assert limit["memory"] == "2G"
    assert int(m.group(1)) * 2**20 < 2 * 2**30 * 0.7
    assert re.search(r"^disk_free_limit\.absolute = 10GB$", conf, re.M)


def run_script(script: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(DEPLOY / "scripts" / script), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
        check=True,
    )


def test_secrets_are_readable_by_the_reading_container_group_only(tmp_path: Path) -> None:
    gid = os.getgid()  # root: the real 10001/999 could be used; any user: its own group
    env = {"APP_GID": str(gid), "SERVICE_GID": str(gid), "SECRETS_OWNER": str(os.getuid())}
    # make-secrets.sh runs as anyone (admin workstation); install-secrets.sh as root on the server.
    run_script("make-secrets.sh", str(tmp_path / "all"), env=env)
    for server, service_file in (("api", "rabbitmq_definitions.json"), ("workers", "redis_password")):
        dest = tmp_path / server
        out = run_script("install-secrets.sh", str(tmp_path / "all"), str(dest), server, env=env)
        assert "0640" in out.stdout
        assert stat.S_IMODE(dest.stat().st_mode) == 0o700
        names = {p.name for p in dest.iterdir()}
        assert service_file in names
        assert "samaconso_database_url" in names
        assert "db_password" not in names  # server 1 only
        assert "minio-credentials.env" not in names
        for f in dest.iterdir():
            mode = stat.S_IMODE(f.stat().st_mode)
            assert mode == 0o640, f"{f.name}: {oct(mode)}"
            assert f.stat().st_gid == gid
    # The generated directory itself (admin workstation): everything stays 0600.
    assert {stat.S_IMODE(f.stat().st_mode) for f in (tmp_path / "all").iterdir()} == {0o600}


def _why_not_containers() -> str | None:
    if os.environ.get("SAMACONSO_REHEARSAL_CONTAINERS") != "1":
        return (
            "long (~10 min, builds images on first run): set SAMACONSO_REHEARSAL_CONTAINERS=1 "
            "(or run `make rehearsal-containers`)"
        )
    if os.geteuid() != 0:
        return "needs root (ip netns, nftables, podman rootful engines)"
    for exe in ("podman", "docker-compose", "nsenter", "mmdebstrap"):
        if shutil.which(exe) is None:
            return f"{exe} missing: bash deploy/containers/prepare.sh installs it"
    return None


@pytest.mark.timeout(3600)
def test_containers_rehearsal_end_to_end() -> None:
    reason = _why_not_containers()
    if reason:
        pytest.skip(reason)
    subprocess.run(["bash", str(DEPLOY / "containers" / "build-images.sh")], check=True, timeout=3000)
    res = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), str(DEPLOY / "rehearsal" / "containers.py")],
        capture_output=True,
        text=True,
        timeout=3000,
    )
    summary = res.stdout.split("Répétition : résultat", 1)[-1]
    assert res.returncode == 0, summary[-4000:]
    for step in (
        "serveur 2 : docker-compose up (rabbitmq, migrate, api_1, api_2)",
        "serveur 3 : docker-compose up (redis, worker_1, worker_2, beat, flower)",
        "aucun secret dans argv",
        "parcours : le client voit la diffusion",
        "arrêt d'api_1 puis redémarrage progressif sous trafic",
        "deploy.sh : migrations puis redémarrage progressif des conteneurs",
    ):
        assert f"OK       {step}" in summary, step
    assert re.search(r"\d+ passed, 0 failed", summary)
