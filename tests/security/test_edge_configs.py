"""Points 5 and 12 at the edge: the real haproxy.cfg caps bodies and hides docs/readiness/metrics
unless configured; the F5 file carries the same figures."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from samaconso.kit.edge import JSON_MAX_BYTES, MULTIPART_OVERHEAD_BYTES
from samaconso.settings import Settings
from tests.deploy.test_deploy_configs import _free_loopback

LB = Path(__file__).parents[2] / "deploy" / "loadbalancer"
CAPS = {
    "json": JSON_MAX_BYTES,
    "avatar": Settings().avatar_max_bytes + MULTIPART_OVERHEAD_BYTES,
    "document": Settings().document_max_bytes + MULTIPART_OVERHEAD_BYTES,
}


def test_f5_and_haproxy_carry_the_apps_figures() -> None:
    haproxy = (LB / "haproxy.cfg").read_text()
    f5 = (LB / "f5-samaconso.tmsh").read_text()
    for cap in CAPS.values():
        assert f"gt {cap}" in haproxy
        assert str(cap) in f5
    vs = f5[f5.index("ltm virtual samaconso_https_vs") :]
    assert "samaconso_api_edge" in vs[: vs.index("\n}\n")]
    for path in ("/openapi.json", "/health/ready", "/metrics"):
        assert path in f5[f5.index("ltm rule samaconso_api_edge") :]


def _start(tmp_path: Path, extra_env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str, list[str]]:
    vip, api_host, data_host = _free_loopback(), _free_loopback(), _free_loopback()
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def answer(self) -> None:
            seen.append(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            body = b'{"status":"running"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Server", "uvicorn")
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = answer

        def log_message(self, *args: Any) -> None:
            pass

    for port in (8001, 8002):
        server = ThreadingHTTPServer((api_host, port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=t", "-days", "1",
         "-keyout", str(tmp_path / "k"), "-out", str(tmp_path / "c")],
        check=True, capture_output=True,
    )  # fmt: skip
    (tmp_path / "pem").write_text((tmp_path / "c").read_text() + (tmp_path / "k").read_text())
    env = {
        **os.environ,
        "SAMACONSO_VIP": vip,
        "SAMACONSO_API_HOST": api_host,
        "SAMACONSO_DATA_HOST": data_host,
        "HAPROXY_CERT": str(tmp_path / "pem"),
        "HAPROXY_RUNDIR": str(tmp_path),
        **extra_env,
    }
    proc = subprocess.Popen(
        ["haproxy", "-db", "-n", "1000", "-f", str(LB / "haproxy.cfg")],
        env=env,
        stdout=(tmp_path / "haproxy.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    return proc, vip, seen


@pytest.mark.skipif(
    not (shutil.which("haproxy") and shutil.which("openssl") and os.geteuid() == 0),
    reason="needs haproxy, openssl and root (binds :443 on a loopback address)",
)
@pytest.mark.parametrize("public", [False, True])
def test_real_haproxy_caps_bodies_and_hides_docs(tmp_path: Path, public: bool) -> None:
    flags = {"SAMACONSO_PUBLIC_DOCS": "true", "SAMACONSO_PUBLIC_READINESS": "true"} if public else {}
    proc, vip, seen = _start(tmp_path, flags)
    client = httpx.Client(base_url=f"https://{vip}", verify=False, timeout=10, trust_env=False)  # noqa: S501
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                if client.get("/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, (tmp_path / "haproxy.log").read_text()
            assert time.monotonic() < deadline
            time.sleep(0.2)
        health = client.get("/health")
        assert "server" not in health.headers
        assert health.headers["strict-transport-security"].startswith("max-age=")
        before = len(seen)
        big_json = client.post("/api/v1/auth/login", content=b"x" * (CAPS["json"] + 1))
        assert big_json.status_code == 413
        assert client.put("/api/v1/me/avatar", content=b"x" * (CAPS["avatar"] + 1)).status_code == 413
        assert client.post("/api/v1/files", content=b"x" * (CAPS["document"] + 1)).status_code == 413
        assert len(seen) == before, "refused bodies never reach the API"
        assert client.post("/api/v1/files", content=b"x" * (CAPS["json"] + 1)).status_code == 200
        expected = 200 if public else 404
        assert client.get("/openapi.json").status_code == expected
        assert client.get("/docs").status_code == expected
        assert client.get("/health/ready").status_code == expected
        assert client.get("/metrics").status_code == 404
    finally:
        client.close()
        proc.terminate()
        proc.wait(10)
