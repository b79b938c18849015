"""The production files in deploy/ are consistent with the application and valid for their tools.

Each tool (docker-compose, promtool, haproxy, nft, shellcheck) is used when installed; the structural
checks below run everywhere."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from samaconso.settings import Settings
from tests.support.tools import require_root, require_tool

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
ENV_EXAMPLE = ROOT / ".env.production.example"
COMPOSE_FILES = ("docker-compose.production.yml", "docker-compose.workers.yml")
# Settings whose value carries a password although the type is a plain string.
URL_SECRETS = {
    "database_url",
    "redis_url",
    "broker_url",
    "result_backend",
    "legacy_sic_url",
    "legacy_histh2mc_url",
    "legacy_bi_ods_url",
    "legacy_simulated_url",
}


def secret_fields() -> set[str]:
    out = set(URL_SECRETS)
    for name, info in Settings.model_fields.items():
        if "SecretStr" in str(info.annotation) or info.annotation is SecretStr:
            out.add(name)
    return out


def env_assignments() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        m = re.match(r"^(SAMACONSO_\w+)=(.*)$", line.strip())
        if m:
            values[m.group(1)] = m.group(2)
    return values


def test_env_example_documents_every_setting() -> None:
    text = ENV_EXAMPLE.read_text()
    missing = [
        f"SAMACONSO_{name.upper()}"
        for name in Settings.model_fields
        if not re.search(rf"^#?\s*SAMACONSO_{name.upper()}\b", text, re.M)
    ]
    assert missing == [], f"settings absent from .env.production.example: {missing}"


def test_env_example_holds_no_secret_value_and_is_a_valid_production_base(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assigned = env_assignments()
    leaked = [f"SAMACONSO_{n.upper()}" for n in secret_fields() if f"SAMACONSO_{n.upper()}" in assigned]
    assert leaked == [], f"secrets must come from files, not the env file: {leaked}"
    assert assigned["SAMACONSO_PROFILE"] == "production"
    assert assigned["SAMACONSO_SECRETS_DIR"] == "/run/secrets"
    for key, value in assigned.items():  # every assigned value parses with the real Settings
        assert "\n" not in value, key
    for key in [k for k in os.environ if k.startswith("SAMACONSO_")]:
        monkeypatch.delenv(key)
    for key, value in assigned.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SAMACONSO_PROFILE", "test")  # production would (rightly) demand the secret files
    parsed = Settings(_env_file=None)
    assert parsed.database_behind_pgbouncer is True
    assert parsed.s3_endpoint_url.endswith(":9000")


def compose(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((DEPLOY / name).read_text())
    return doc


def test_compose_secrets_are_settings_in_lower_case_and_all_declared() -> None:
    fields = set(Settings.model_fields)
    for name in COMPOSE_FILES:
        doc = compose(name)
        declared = set(doc["secrets"])
        for svc_name, svc in doc["services"].items():
            for secret in svc.get("secrets", []):
                assert secret in declared, (name, svc_name, secret)
                if secret.startswith("samaconso_"):
                    assert secret.removeprefix("samaconso_") in fields, f"{secret} is not a setting"
        app_secrets = {s for s in declared if s.startswith("samaconso_")}
        # not a service's: the simulated source (rehearsal only) and the v2 attachments bucket key,
        # read once by `samaconso import-v2` from the operator's shell at cutover
        one_off = {"legacy_simulated_url", "v2_s3_secret_key"}
        assert {f"samaconso_{f}" for f in secret_fields() - one_off} <= app_secrets, name


def test_api_compose_matches_the_guide() -> None:
    services = compose("docker-compose.production.yml")["services"]
    assert {"rabbitmq", "migrate", "api_1", "api_2"} <= set(services)
    assert "management" in services["rabbitmq"]["image"]
    assert services["migrate"]["command"] == ["samaconso", "migrate"]
    assert services["migrate"]["restart"] == "no"
    for name, port in (("api_1", "8001"), ("api_2", "8002")):
        svc = services[name]
        assert svc["command"][:2] == ["samaconso", "api"]
        assert port in svc["command"]
        assert svc["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert svc["environment"]["SAMACONSO_HEALTH_PORT"] == port
        assert "healthcheck.py" in " ".join(svc["healthcheck"]["test"])
        limits = svc["deploy"]["resources"]["limits"]
        assert float(limits["cpus"]) > 0
        assert limits["memory"]
        assert svc["network_mode"] == "host"


def test_workers_compose_matches_the_guide() -> None:
    services = compose("docker-compose.workers.yml")["services"]
    w1, w2 = services["worker_1"]["command"], services["worker_2"]["command"]
    assert w1[w1.index("--queues") + 1] == "urgent,high_priority"
    assert w1[w1.index("--concurrency") + 1] == "4"
    assert w2[w2.index("--queues") + 1] == "normal,low_priority"
    assert w2[w2.index("--concurrency") + 1] == "4"
    beats = [
        n for n, s in services.items() if "beat" in s.get("command", []) or "--beat" in s.get("command", [])
    ]
    assert beats == ["beat"], "exactly one periodic scheduler"
    assert services["flower"]["command"][:2] == ["samaconso", "flower"]
    redis_cmd = " ".join(services["redis"]["command"])
    assert "/run/secrets/redis_password" in redis_cmd
    assert "--include" in redis_cmd
    conf = (DEPLOY / "server3-workers" / "redis" / "redis.conf").read_text()
    for line in ("appendonly yes", "maxmemory 4gb", "maxmemory-policy noeviction", "save 900 1"):
        assert re.search(rf"^{line}$", conf, re.M), line
    assert not re.search(r"^requirepass", conf, re.M)


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_compose_files_name_an_image_for_every_service(name: str) -> None:
    doc = compose(name)
    assert doc["services"]
    assert all("image" in s for s in doc["services"].values())


def _compose_argv() -> list[str]:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    return [require_tool("docker-compose", "validating the compose files needs docker compose")]


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_compose_files_validate_with_docker_compose(name: str, tmp_path: Path) -> None:
    argv = [*_compose_argv(), "-f", name, "config", "-q"]
    shutil.copy(DEPLOY / name, tmp_path / name)
    shutil.copy(ENV_EXAMPLE, tmp_path / ".env.production")
    (tmp_path / "secrets").mkdir()
    for rel in re.findall(r"\./secrets/[\w.]+", (DEPLOY / name).read_text()):
        (tmp_path / rel).touch()
    env = {**os.environ, "SAMACONSO_TAG": "3.0.0"}
    res = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    res = subprocess.run(
        argv,
        cwd=tmp_path,
        env={k: v for k, v in env.items() if k != "SAMACONSO_TAG"},
        capture_output=True,
        text=True,
    )
    assert res.returncode != 0, "an image tag must be required"


def test_prometheus_rules_cover_the_issue() -> None:
    rules = yaml.safe_load((DEPLOY / "monitoring" / "rules" / "samaconso-alerts.yml").read_text())
    exprs = {r["alert"]: r["expr"] for g in rules["groups"] for r in g["rules"]}
    needed = {
        "SamaConsoApiDown": "up{",
        "SamaConsoHighErrorRate": 'status=~"5..',
        "SamaConsoHighLatencyP95": "histogram_quantile(0.95",
        "SamaConsoUrgentQueueBacklog": "rabbitmq_queue_messages_ready",
        "SamaConsoDeadLetterGrowth": "samaconso.dead_letter",
        "SamaConsoCertificateExpiresSoon": "samaconso_certificate_days_to_expiry",
        "SamaConsoDiskSpaceLow": "node_filesystem_avail_bytes",
    }
    for alert, fragment in needed.items():
        assert fragment in exprs[alert], alert


def test_prometheus_config_and_rules_pass_promtool(tmp_path: Path) -> None:
    promtool = require_tool("promtool", "checking the Prometheus configuration and rules needs it")
    (tmp_path / "rules").mkdir()
    shutil.copy(DEPLOY / "monitoring" / "rules" / "samaconso-alerts.yml", tmp_path / "rules")
    token = tmp_path / "token"
    token.write_text("x")
    cfg = (DEPLOY / "monitoring" / "prometheus.yml").read_text()
    (tmp_path / "prometheus.yml").write_text(
        cfg.replace("/etc/prometheus/secrets/samaconso_metrics_token", str(token)).replace(
            "/etc/prometheus/secrets/samaconso_flower_password", str(token)
        )
    )
    res = subprocess.run(
        [promtool, "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCESS: 1 rule files found" in res.stdout + res.stderr


def test_prometheus_scrapes_the_api_with_the_metrics_token() -> None:
    cfg = yaml.safe_load((DEPLOY / "monitoring" / "prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in cfg["scrape_configs"]}
    api = jobs["samaconso_api"]
    assert api["authorization"]["credentials_file"].endswith("samaconso_metrics_token")
    targets = [t for sc in api["static_configs"] for t in sc["targets"]]
    assert sorted(t.split(":")[1] for t in targets) == ["8001", "8002"]
    assert {"rabbitmq", "redis", "postgresql"} <= set(jobs)


def test_grafana_dashboard_is_valid_json_with_queries() -> None:
    dash = json.loads((DEPLOY / "monitoring" / "grafana-dashboard.json").read_text())
    assert dash["uid"]
    assert dash["panels"]
    for panel in dash["panels"]:
        assert panel["targets"], panel["title"]
        assert all(t["expr"] for t in panel["targets"]), panel["title"]
    exprs = " ".join(t["expr"] for p in dash["panels"] for t in p["targets"])
    assert "samaconso_certificate_days_to_expiry" in exprs
    assert "samaconso.dead_letter" in exprs


def test_load_balancer_configurations_check_health_and_balance() -> None:
    cfg = (DEPLOY / "loadbalancer" / "haproxy.cfg").read_text()
    assert "balance leastconn" in cfg
    assert "http-check expect string running" in cfg
    assert "uri /health" in cfg
    f5 = (DEPLOY / "loadbalancer" / "f5-samaconso.tmsh").read_text()
    assert "least-connections-member" in f5
    assert 'recv "\\"status\\":\\"running\\""' in f5
    assert ":8001" in f5
    assert ":8002" in f5


def test_haproxy_configuration_passes_haproxy_check(tmp_path: Path) -> None:
    require_tool("haproxy", "checking haproxy.cfg needs it")
    require_tool("openssl", "the check needs a throw-away certificate")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=t",
            "-days",
            "1",
            "-keyout",
            str(tmp_path / "k"),
            "-out",
            str(tmp_path / "c"),
        ],
        check=True,
        capture_output=True,
    )
    (tmp_path / "pem").write_text((tmp_path / "c").read_text() + (tmp_path / "k").read_text())
    env = {
        **os.environ,
        "SAMACONSO_VIP": "127.0.0.1",
        "SAMACONSO_API_HOST": "127.0.0.1",
        "SAMACONSO_DATA_HOST": "127.0.0.1",
        "HAPROXY_CERT": str(tmp_path / "pem"),
        "HAPROXY_RUNDIR": str(tmp_path),
    }
    res = subprocess.run(
        ["haproxy", "-c", "-f", str(DEPLOY / "loadbalancer" / "haproxy.cfg")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stdout + res.stderr


def test_firewall_rules_open_only_the_listed_ports() -> None:
    fw = DEPLOY / "firewall"
    data = (fw / "server1-data.nft").read_text()
    api = (fw / "server2-api.nft").read_text()
    workers = (fw / "server3-workers.nft").read_text()
    assert "ip saddr $APP_SERVERS tcp dport { 6432, 5432 } accept" in data
    assert "ip saddr $LOAD_BALANCERS tcp dport { 8001, 8002 } accept" in api
    # RabbitMQ and Redis: every API and worker server (APP_SERVERS grows with the inventory).
    assert "ip saddr $APP_SERVERS tcp dport 5672 accept" in api
    assert "ip saddr $APP_SERVERS tcp dport 6379 accept" in workers
    # MinIO: application servers, the load balancers (public files name) and administration only.
    s3_sources = sorted(
        ln.split("ip saddr ")[1].split()[0]
        for ln in data.splitlines()
        if re.search(r"dport (\{[^}]*\b9000\b[^}]*\}|9000) accept", ln)
    )
    assert s3_sources == ["$ADMIN_NET", "$APP_SERVERS", "$LOAD_BALANCERS"], s3_sources
    for text, mgmt in ((api, "15672"), (workers, "5555"), (data, "9001")):
        line = next(ln for ln in text.splitlines() if mgmt in ln and "accept" in ln)
        assert "$ADMIN_NET" in line, line
        assert "policy drop" in text


def test_firewall_rules_pass_nft_check() -> None:
    nft = require_tool("nft", "checking the nftables rule sets needs it")
    require_root("nft -c needs CAP_NET_ADMIN")
    fw = DEPLOY / "firewall"
    for name in ("server1-data.nft", "server2-api.nft", "server3-workers.nft"):
        res = subprocess.run([nft, "-c", "-I", str(fw), "-f", str(fw / name)], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr


def test_shell_scripts_parse() -> None:
    scripts = sorted(DEPLOY.rglob("*.sh"))
    assert len(scripts) >= 9
    for script in scripts:
        res = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert res.returncode == 0, (script, res.stderr)


def test_shell_scripts_pass_shellcheck() -> None:
    shellcheck = require_tool("shellcheck", "linting the deploy scripts needs it")
    scripts = sorted(DEPLOY.rglob("*.sh"))
    res = subprocess.run(
        [shellcheck, "-x", "-S", "warning", *map(str, scripts)], capture_output=True, text=True, cwd=ROOT
    )
    assert res.returncode == 0, res.stdout


def test_rabbitmq_definitions_hash_passwords_like_rabbitmq(tmp_path: Path) -> None:
    (tmp_path / "app").write_text("app-password-0123456789")
    (tmp_path / "admin").write_text("admin-password-0123456789")
    res = subprocess.run(
        [
            sys.executable,
            str(DEPLOY / "scripts" / "make-rabbitmq-definitions.py"),
            "--app-password-file",
            str(tmp_path / "app"),
            "--admin-password-file",
            str(tmp_path / "admin"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "password-0123456789" not in res.stdout
    doc = json.loads(res.stdout)
    users = {u["name"]: u for u in doc["users"]}
    raw = base64.b64decode(users["samaconso"]["password_hash"])
    salt, digest = raw[:4], raw[4:]
    assert digest == hashlib.sha256(salt + b"app-password-0123456789").digest()
    assert "guest" not in users
    assert doc["vhosts"] == [{"name": "samaconso"}]
    assert doc["policies"][0]["definition"] == {"dead-letter-exchange": "samaconso.dlx"}


def test_make_secrets_generates_files_only_once(tmp_path: Path) -> None:
    out = tmp_path / "secrets"
    subprocess.run(
        ["bash", str(DEPLOY / "scripts" / "make-secrets.sh"), str(out)], check=True, capture_output=True
    )
    jwt = (out / "samaconso_jwt_secret").read_text()
    assert len(jwt) >= 32
    assert oct(out.stat().st_mode)[-3:] == "700"
    assert oct((out / "samaconso_jwt_secret").stat().st_mode)[-3:] == "600"
    db = (out / "samaconso_database_url").read_text()
    assert db.startswith("postgresql+asyncpg://samaconso:")
    assert db.endswith("@10.20.0.11:6432/samaconso")
    subprocess.run(
        ["bash", str(DEPLOY / "scripts" / "make-secrets.sh"), str(out)], check=True, capture_output=True
    )
    assert (out / "samaconso_jwt_secret").read_text() == jwt, "never overwritten"
    # The generated secrets satisfy the production checks of the real Settings.
    generated: dict[str, Any] = {
        name: (out / f"samaconso_{name}").read_text()
        for name in (
            "jwt_secret",
            "s3_secret_key",
            "flower_password",
            "metrics_token",
            "database_url",
            "redis_url",
            "broker_url",
            "result_backend",
        )
    }
    settings = Settings(profile="test", **generated)
    assert settings.security_problems() == []


@pytest.mark.parametrize(("body", "expected"), [(b'{"status":"running"}', 0), (b'{"status":"starting"}', 1)])
def test_container_healthcheck_uses_the_f5_criterion(body: bytes, expected: int) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = {**os.environ, "SAMACONSO_HEALTH_PORT": str(server.server_address[1])}
        res = subprocess.run([sys.executable, str(DEPLOY / "docker" / "healthcheck.py")], env=env)
        assert res.returncode == expected
    finally:
        server.shutdown()


FILES_HOST = "fichiers.samaconso.senelec.sn"


def test_public_files_name_is_published_like_the_runbook_says() -> None:
    env = env_assignments()
    assert env["SAMACONSO_S3_PUBLIC_ENDPOINT_URL"] == f"https://{FILES_HOST}"
    f5 = (DEPLOY / "loadbalancer" / "f5-samaconso.tmsh").read_text()
    vs = f5[f5.index("ltm virtual samaconso_files_vs") :]
    assert "pool samaconso_files_pool" in vs
    assert "samaconso_files_filter" in vs
    pool = f5[f5.index("ltm pool samaconso_files_pool") :]
    assert "10.20.0.11:9000" in pool[: pool.index("\n}\n")]
    rule = f5[f5.index("ltm rule samaconso_files_filter") : f5.index("ltm virtual samaconso_files_vs")]
    for fragment in (
        '"GET"',
        '"HEAD"',
        '"/documents/"',
        '"/avatars/"',
        "X-Amz-Signature=",
        "HTTP::respond 405",
    ):
        assert fragment in rule, fragment
    assert not re.search(r"HTTP::header (replace|insert|remove) Host", rule), "SigV4 covers Host"
    cfg = (DEPLOY / "loadbalancer" / "haproxy.cfg").read_text()
    assert FILES_HOST in cfg
    assert not re.search(r"(set|del|replace)-header Host", cfg, re.I), "SigV4 covers Host"


def _free_loopback() -> str:
    import random
    import socket

    draw = random.SystemRandom()  # not the per-test seed of pytest-randomly: another run may hold it
    for _ in range(50):
        ip = f"127.{draw.randint(64, 250)}.{draw.randint(1, 250)}.{draw.randint(2, 250)}"
        with socket.socket() as s:
            try:
                s.bind((ip, 443))
            except OSError:
                continue
            return ip
    raise RuntimeError("no free loopback address")


@pytest.mark.skipif(
    not (shutil.which("haproxy") and shutil.which("openssl") and os.geteuid() == 0),
    reason="needs haproxy, openssl and root (binds :443 and :80 on a loopback address)",
)
def test_haproxy_routes_the_public_files_name_to_minio_only_for_signed_reads(tmp_path: Path) -> None:
    """The real haproxy.cfg in front of stand-ins for api_1/api_2 and MinIO, on private loopback addresses."""
    import time
    from http.server import ThreadingHTTPServer

    import httpx

    vip, api_host, data_host = _free_loopback(), _free_loopback(), _free_loopback()
    seen: list[tuple[str, str, str, dict[str, str]]] = []

    def handler(label: str) -> type[BaseHTTPRequestHandler]:
        class Handler(BaseHTTPRequestHandler):
            def answer(self) -> None:
                seen.append((label, self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
                body = b'{"status":"running"}' if label == "api" else b"file-bytes"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = answer

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    servers = [
        ThreadingHTTPServer((api_host, 8001), handler("api")),
        ThreadingHTTPServer((api_host, 8002), handler("api")),
        ThreadingHTTPServer((data_host, 9000), handler("minio")),
    ]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=t", "-days", "1",
            "-keyout", str(tmp_path / "k"), "-out", str(tmp_path / "c"),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    (tmp_path / "pem").write_text((tmp_path / "c").read_text() + (tmp_path / "k").read_text())
    env = {
        **os.environ,
        "SAMACONSO_VIP": vip,
        "SAMACONSO_API_HOST": api_host,
        "SAMACONSO_DATA_HOST": data_host,
        "HAPROXY_CERT": str(tmp_path / "pem"),
        "HAPROXY_RUNDIR": str(tmp_path),
    }
    proc = subprocess.Popen(
        # -n: maxconn below this machine's descriptor limit (20 000 in production).
        ["haproxy", "-db", "-n", "1000", "-f", str(DEPLOY / "loadbalancer" / "haproxy.cfg")],
        env=env,
        stdout=(tmp_path / "haproxy.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    client = httpx.Client(base_url=f"https://{vip}", verify=False, timeout=5, trust_env=False)  # noqa: S501
    try:
        signed = "/documents/uploads/u/f.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc123"
        files = {"Host": FILES_HOST}
        deadline = time.monotonic() + 15
        last = ""
        while True:
            try:
                res = client.get(signed, headers={**files, "Authorization": "AWS4-HMAC-SHA256 stolen"})
                if res.status_code == 200:
                    break
                last = f"{res.status_code} {res.text[:200]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            assert proc.poll() is None, (tmp_path / "haproxy.log").read_text()
            assert time.monotonic() < deadline, (
                f"haproxy not serving: {last} {(tmp_path / 'haproxy.log').read_text()}"
            )
            time.sleep(0.2)
        assert res.content == b"file-bytes"
        assert res.headers["x-content-type-options"] == "nosniff"
        label, method, path, headers = seen[-1]
        assert (label, method, path) == ("minio", "GET", signed)
        assert headers["host"] == FILES_HOST, "Host must reach MinIO unchanged (SigV4)"
        assert "authorization" not in headers
        assert client.head(signed, headers=files).status_code == 200
        assert seen[-1][:2] == ("minio", "HEAD")
        before = len([s for s in seen if s[0] == "minio"])
        for method in ("PUT", "POST", "DELETE"):
            assert client.request(method, signed, headers=files, content=b"x").status_code == 405, method
        for path in (
            "/documents/uploads/u/f.pdf",  # not signed
            "/?X-Amz-Signature=abc123",  # bucket listing
            "/private/x?X-Amz-Signature=abc123",  # another bucket
            "/api/v1/me?X-Amz-Signature=abc123",  # the API is not reachable under this name
        ):
            assert client.get(path, headers=files).status_code == 403, path
        assert len([s for s in seen if s[0] == "minio"]) == before, "refused requests never reach MinIO"
        assert client.get(signed.replace("/documents/", "/avatars/"), headers=files).status_code == 200
        res = client.get("/health", headers={"Host": "samaconso.senelec.sn"})
        assert res.status_code == 200
        assert seen[-1][:3] == ("api", "GET", "/health")
    finally:
        client.close()
        proc.terminate()
        proc.wait(10)
        for server in servers:
            server.shutdown()
            server.server_close()


def test_rehearsal_report_masks_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("rehearsal_mod", DEPLOY / "rehearsal" / "rehearsal.py")
    assert spec
    assert spec.loader
    mod = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "rehearsal_mod", mod)  # dataclasses look their module up
    spec.loader.exec_module(mod)
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    text = f'201 {{"token_type":"bearer","access_token":"{jwt}","refresh_token":"opaque-Rt-123","x":1}}'
    masked = mod.mask_secrets(text)
    assert "eyJ" not in masked
    assert "opaque-Rt-123" not in masked
    assert '"x":1' in masked
    assert '"access_token":"…"' in masked
    assert "eyJ" not in mod.mask_secrets(
        f'{{"access_token":"{jwt[:40]}'
    )  # cut in the middle (report excerpt)
    assert "secret" not in mod.mask_secrets("Authorization: Bearer secret.value")
