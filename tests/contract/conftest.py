"""Contract tests: the app served for real (uvicorn on a loopback port, its own event loop in a
thread), as the mobile team's tools see it: Schemathesis, a generated client, a browser.

The demo customer (legacy scenario phone) owns the demo Woyofal meter, so the customer screens have
data; an agent of Dakar Centre and an administrator complete the three roles."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from samaconso.identity.models import Agency, Role
from samaconso.kit.db import Database
from samaconso.legacy import generator as g
from samaconso.settings import Settings
from tests.support.env import TMP
from tests.support.legacy import LegacySource
from tests.support.users import TestUser, make_user

ARTEFACTS = TMP / "contract-artefacts"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    settings: Settings


@pytest.fixture(scope="session")
def live_server(base_settings: Settings, legacy_source: LegacySource) -> Iterator[LiveServer]:
    """``uvicorn --factory samaconso.app:create_app`` in its own process, configured like the tests."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "SAMACONSO_PUBLIC_BASE_URL": url, "SAMACONSO_LOG_LEVEL": "WARNING"}
    log_path = TMP / "contract-server.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "samaconso.app:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the contract test server exited: {log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the contract test server did not start")
            time.sleep(0.2)
        yield LiveServer(url, base_settings.model_copy(update={"public_base_url": url}))
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@dataclass
class Roles:
    customer: TestUser
    agent: TestUser
    admin: TestUser


@pytest.fixture
async def roles(db: Database, settings: Settings, agencies: dict[str, Agency]) -> Roles:
    return Roles(
        customer=await make_user(db, settings, Role.customer, phone=g.DEMO_PHONE, first_name="Awa"),
        agent=await make_user(db, settings, Role.agent, agency_id=agencies["DKC"].id),
        admin=await make_user(db, settings, Role.admin),
    )


@pytest.fixture
def artefacts(request: pytest.FixtureRequest) -> Path:
    folder: Path = ARTEFACTS / str(request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def spec(live_server: LiveServer) -> dict[str, object]:
    response = httpx.get(f"{live_server.url}/openapi.json", timeout=10)
    assert response.status_code == 200
    data: dict[str, object] = response.json()
    return data
