"""Points 5 and 12: bodies capped before reading (declared or chunked), a bound on multipart parts;
security headers on every answer; docs and readiness hidden from the public VIP unless configured."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from samaconso.embedded.procs import free_port, port_open
from samaconso.identity.models import Role
from samaconso.kit.db import Database
from samaconso.settings import Settings
from tests.identity.helpers import API
from tests.support.settings import Serve, override
from tests.support.users import make_user

MB = 1024 * 1024


async def _raw_post(
    app: FastAPI,
    path: str,
    chunks: AsyncIterator[bytes],
    headers: dict[str, str],
    method: str = "POST",
) -> tuple[int, dict[str, str], bytes, int]:
    """Send a request straight to the ASGI app; returns (status, headers, body, bytes the app pulled)."""
    pulled = 0
    done = False

    async def receive() -> dict[str, Any]:
        nonlocal pulled, done
        if done:
            return {"type": "http.disconnect"}
        try:
            chunk = await chunks.__anext__()
        except StopAsyncIteration:
            done = True
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    status = 0
    response_headers: dict[str, str] = {}
    body = bytearray()

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            response_headers.update({k.decode(): v.decode() for k, v in message["headers"]})
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
        "app": app,
    }
    await app(scope, receive, send)  # type: ignore[arg-type]
    return status, response_headers, bytes(body), pulled


async def _megabytes(n: int, piece: bytes = b"x") -> AsyncIterator[bytes]:
    for _ in range(n):
        yield piece * MB


@pytest.mark.usefixtures("db")
async def test_declared_30_mb_login_is_refused_before_reading(app: FastAPI) -> None:
    status, headers, body, pulled = await _raw_post(
        app,
        f"{API}/auth/login",
        _megabytes(30),
        {"content-type": "application/json", "content-length": str(30 * MB)},
    )
    assert status == 413
    assert headers["content-type"] == "application/problem+json"
    assert b"payload_too_large" in body
    assert pulled == 0


@pytest.mark.usefixtures("db")
async def test_chunked_30_mb_is_cut_at_the_cap(app: FastAPI) -> None:
    async def small_chunks() -> AsyncIterator[bytes]:
        for _ in range(30 * 64):
            yield b"[" * (16 * 1024)

    for path in (f"{API}/auth/login", f"{API}/auth/logout"):  # public and authenticated routes alike
        status, _, body, pulled = await _raw_post(
            app, path, small_chunks(), {"content-type": "application/json"}
        )
        assert status == 413, body
        assert pulled <= 64 * 1024 + 16 * 1024  # read up to the cap, not 30 MB


async def test_upload_with_many_parts_is_refused(app: FastAPI, db: Database, settings: Settings) -> None:
    customer = await make_user(db, settings, Role.customer)
    boundary = "b0undary"

    async def parts() -> AsyncIterator[bytes]:
        part = f'--{boundary}\r\nContent-Disposition: form-data; name="x"\r\n\r\n\r\n'.encode()
        for _ in range(240_001 // 100):
            yield part * 100
        yield f"--{boundary}--\r\n".encode()

    status, _, body, pulled = await _raw_post(
        app,
        f"{API}/files",
        parts(),
        {"content-type": f"multipart/form-data; boundary={boundary}", **customer.headers},
    )
    assert status == 400, body
    assert b"invalid_upload" in body
    assert pulled < 1 * MB


async def test_security_headers_on_personal_data(app: FastAPI, db: Database, settings: Settings) -> None:
    customer = await make_user(db, settings, Role.customer)
    for scheme in ("http", "https"):
        transport = ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with AsyncClient(transport=transport, base_url=f"{scheme}://testserver") as http:
            me = await http.get(f"{API}/me", headers=customer.headers)
            refused = await http.get(f"{API}/me")
        for response in (me, refused):
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["cache-control"] == "no-store"
            assert "server" not in response.headers
            assert ("strict-transport-security" in response.headers) is (scheme == "https")


async def test_docs_and_readiness_hidden_from_the_public_vip(
    client: AsyncClient, settings: Settings, serve: Serve
) -> None:
    via_vip = {"X-Forwarded-For": "41.82.10.20"}
    for path in ("/openapi.json", "/docs", "/health/ready"):
        hidden = await client.get(path, headers=via_vip)
        assert hidden.status_code == 404, path
        assert hidden.headers["content-type"] == "application/problem+json"
    assert (await client.get("/openapi.json")).status_code == 200  # an instance called directly
    assert (await client.get("/health", headers=via_vip)).status_code == 200  # the F5 monitor
    async with serve(override(settings, public_docs=True, public_readiness=True)) as exposed:
        assert (await exposed.get("/openapi.json", headers=via_vip)).status_code == 200
        assert (await exposed.get("/health/ready", headers=via_vip)).status_code in (200, 503)


def test_real_api_process_sends_no_server_banner(settings: Settings) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "samaconso.cli", "api", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, "SAMACONSO_PROFILE": "test"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not port_open("127.0.0.1", port):
            assert proc.poll() is None, "samaconso api exited"
            assert time.monotonic() < deadline, "samaconso api did not start"
            time.sleep(0.3)
        response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10)
        assert response.status_code == 200
        assert "server" not in response.headers
        assert response.headers["x-content-type-options"] == "nosniff"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
