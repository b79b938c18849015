"""Exercice « les deux moteurs en haute disponibilité » (deploy/README.md §13.3), joué sur cette machine.

1. PostgreSQL 15 en réplique de streaming : un primaire jetable (port libre de la boucle locale) configuré par les
   fichiers du dépôt (deploy/server1-data/postgresql/samaconso.conf et pg_hba.conf, plus la ligne
   `host replication replication <réplique>/32 scram-sha-256` du §13.3), rôle `replication`,
   `pg_basebackup -R -X stream -S replica_1 -C` vers une réplique (autre port libre, hot_standby = on) ;
   schéma de l'application migré (`samaconso migrate`), administrateur créé (`samaconso staff
   create`), puis la vraie API (`samaconso api`) avec SAMACONSO_DATABASE_READ_URL = la réplique :
   GET /api/v1/admin/users lu sur la réplique (rejeu suspendu : le compte créé sur le primaire
   n'apparaît pas ; rejeu repris : il apparaît), pg_stat_replication = streaming, une écriture par
   l'URL de lecture refusée ; le rafraîchissement du tableau de bord (la tâche du beat, dans un
   processus bâti comme un worker) lu sur la réplique (rejeu suspendu : le client créé sur le
   primaire n'est pas compté) et ses agrégats écrits sur le primaire ; retard de rejeu mesuré.
2. RabbitMQ, trois nœuds (rabbit1..3@localhost, ports 5682x/2568x, epmd à part sur 54369, même
   cookie) : une file classique d'abord (l'état de départ de la production), des tâches en attente,
   migration classique → quorum telle que le §13.3 la décrit (worker qui vide, files supprimées,
   redéclarées quorum par `samaconso worker` avec SAMACONSO_CELERY_QUORUM_QUEUES=true), aucune tâche
   perdue ; `list_queues name type members` → quorum, trois membres ; le nœud qui mène la file
   arrêté, le worker consomme encore (aller-retour réel de samaconso.system.echo).

Les services partagés (:5432, :6379 base 10/11 seulement, :5672) ne sont pas touchés ; tout ce qui est
créé (processus, répertoire temporaire) est supprimé à la fin, même en cas d'échec.

  sudo .venv/bin/python deploy/rehearsal/engines.py [--only postgresql|rabbitmq]   (≈ 3 min)
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PG_CONF_DIR = REPO / "deploy" / "server1-data" / "postgresql"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
VENV = REPO / ".venv" / "bin"
EPMD_PORT = 54369
RMQ_NODES = [(f"rabbit{i}@localhost", 56820 + i, 25680 + i) for i in (1, 2, 3)]
QUEUES = ("urgent", "high_priority", "normal", "low_priority")
REPLICATION_LINE = "host    replication       replication                  {addr}/32     scram-sha-256\n"
# Ce que le fichier du dépôt règle pour 32 Gio de mémoire ; ramené à ce qu'une machine de test tient.
PG_DRILL_OVERRIDES = (
    "listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{sock}'\n"
    "max_connections = 40\nshared_buffers = '32MB'\neffective_cache_size = '128MB'\n"
    "maintenance_work_mem = '32MB'\nautovacuum_work_mem = '16MB'\nwal_buffers = '1MB'\n"
    "min_wal_size = '80MB'\nmax_wal_size = '256MB'\nwal_keep_size = '64MB'\nhuge_pages = 'off'\n"
    "logging_collector = off\nhot_standby = on\n"
)


def with_replication_line(hba: str, addr: str) -> str:
    """Le pg_hba.conf du dépôt avec la ligne de réplication du §13.3, avant la première ligne qui rejette
    (pg_hba est lu dans l'ordre : après un `reject`, la ligne ne servirait jamais)."""
    lines = hba.splitlines(keepends=True)
    reject = next(
        i for i, line in enumerate(lines) if line.split()[:1] == ["host"] and "reject" in line.split()
    )
    lines.insert(reject, REPLICATION_LINE.format(addr=addr))
    return "".join(lines)


def free_port() -> int:
    """Un port libre de la boucle locale (plage éphémère : jamais 5432, 6379 ni 5672)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Report:
    def __init__(self) -> None:
        self.lines: list[tuple[str, bool, str]] = []

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.lines.append((name, ok, detail))
        print(f"{'OK    ' if ok else 'FAILED'} {name}{' : ' + detail if detail else ''}", flush=True)
        return ok

    def info(self, text: str) -> None:
        print(f"       {text}", flush=True)

    @property
    def ok(self) -> bool:
        return bool(self.lines) and all(ok for _, ok, _ in self.lines)


def run(
    argv: list[str],
    *,
    user: str | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
    timeout: float = 180,
    input_text: str | None = None,
) -> str:
    if user:
        argv = ["runuser", "-u", user, "--", *argv]
    res = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, cwd="/", env=env, input=input_text
    )
    if check and res.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {(res.stderr.strip() or res.stdout.strip())[-800:]}")
    return res.stdout + res.stderr


def wait_for(pred: Callable[[], bool], timeout: float, step: float = 0.2) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if pred():
                return True
        except Exception:  # noqa: S110 - on réessaie jusqu'à l'échéance
            pass
        time.sleep(step)
    return False


def http(method: str, url: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - boucle locale
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as res:  # noqa: S310
            return res.status, json.loads(res.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")[:300]


def base_app_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMACONSO_")}
    env.update(
        {
            "SAMACONSO_DATA_DIR": str(tmp / "app-data"),
            # les seules parties des services partagés que la tâche nous attribue (bases 10 et 11)
            "SAMACONSO_REDIS_URL": os.environ.get("SAMACONSO_REDIS_URL", "redis://127.0.0.1:6379/10"),
            "SAMACONSO_RESULT_BACKEND": os.environ.get(
                "SAMACONSO_RESULT_BACKEND", "redis://127.0.0.1:6379/11"
            ),
            "SAMACONSO_BROKER_URL": os.environ.get(
                "SAMACONSO_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/h6"
            ),
            "SAMACONSO_SMS_BACKEND": "file",
            "SAMACONSO_PUSH_BACKEND": "file",
        }
    )
    return env


# ---------------------------------------------------------------------------------------- PostgreSQL
class PostgresDrill:
    def __init__(self, tmp: Path, rep: Report) -> None:
        self.tmp, self.rep = tmp / "pg", rep
        self.sock = self.tmp / "run"
        self.primary, self.replica = self.tmp / "primary", self.tmp / "replica"
        self.app_password = secrets.token_urlsafe(18)
        self.repl_password = secrets.token_urlsafe(18)
        self.api: subprocess.Popen[bytes] | None = None
        self.app_env: dict[str, str] = {}  # l'environnement de l'API (URL de lecture = la réplique)
        self.token: str | None = None  # le jeton de l'administrateur, une fois connecté
        self.primary_port, self.replica_port, self.api_port = free_port(), free_port(), free_port()
        self.started: list[Path] = []

    def psql(self, port: int, sql: str, db: str = "postgres") -> str:
        argv = [str(PG_BIN / "psql"), "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1"]
        argv += ["-h", str(self.sock), "-p", str(port), "-d", db, "-c", sql]
        return run(argv, user="postgres").strip()

    def pg_ctl(self, data: Path, action: str) -> None:
        log = data.parent / f"{data.name}.log"
        try:
            run(
                [str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "90", action],
                user="postgres",
            )
        except RuntimeError as exc:
            raise RuntimeError(f"{exc} ; {log.read_text()[-1200:] if log.exists() else ''}") from exc
        if action == "start":
            self.started.append(data)

    def url(self, port: int, driver: str = "postgresql+asyncpg") -> str:
        return f"{driver}://samaconso:{self.app_password}@127.0.0.1:{port}/samaconso"

    def setup_primary(self) -> None:
        self.sock.mkdir(parents=True)
        subprocess.run(["chown", "-R", "postgres:postgres", str(self.tmp)], check=True)
        run(
            [str(PG_BIN / "initdb"), "-D", str(self.primary), "-U", "postgres", "--auth-local=peer",
             "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"],
            user="postgres",
        )  # fmt: skip
        # Les fichiers du dépôt, tels quels, puis les réglages propres à l'exercice (lus après : ils l'emportent).
        conf = self.primary / "postgresql.conf"
        shutil.copy(PG_CONF_DIR / "samaconso.conf", self.primary / "samaconso.conf")
        (self.primary / "drill.conf").write_text(
            PG_DRILL_OVERRIDES.format(port=self.primary_port, sock=self.sock)
        )
        with conf.open("a") as fh:
            fh.write("include 'samaconso.conf'\ninclude 'drill.conf'\n")
        (self.primary / "pg_hba.conf").write_text(
            with_replication_line((PG_CONF_DIR / "pg_hba.conf").read_text(), "127.0.0.1")
        )
        subprocess.run(["chown", "-R", "postgres:postgres", str(self.tmp)], check=True)
        self.pg_ctl(self.primary, "start")
        self.psql(
            self.primary_port,
            f"CREATE ROLE samaconso LOGIN PASSWORD '{self.app_password}';"
            f"CREATE ROLE replication WITH REPLICATION LOGIN PASSWORD '{self.repl_password}';",
        )
        self.psql(self.primary_port, "CREATE DATABASE samaconso OWNER samaconso")
        self.rep.check(
            "postgresql : primaire avec samaconso.conf et pg_hba.conf du dépôt",
            self.psql(self.primary_port, "SHOW wal_level") == "replica",
            f"port {self.primary_port}, wal_level = replica, ligne « host replication replication 127.0.0.1/32 »",
        )

    def basebackup(self) -> None:
        t0 = time.monotonic()
        # le mot de passe par l'environnement (runuser le garde), jamais dans la ligne de commande
        env = {"PGPASSWORD": self.repl_password, "PATH": os.environ.get("PATH", "")}
        run(
            [str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "replication",
             "-D", str(self.replica), "-R", "-X", "stream", "-S", "replica_1", "-C", "-c", "fast"],
            user="postgres", env=env,
        )  # fmt: skip
        took = time.monotonic() - t0
        (self.replica / "drill.conf").write_text(
            PG_DRILL_OVERRIDES.format(port=self.replica_port, sock=self.sock)
        )
        auto = (self.replica / "postgresql.auto.conf").read_text()
        self.pg_ctl(self.replica, "start")
        in_recovery = self.psql(self.replica_port, "SELECT pg_is_in_recovery()")
        self.rep.check(
            "postgresql : pg_basebackup -R -X stream -S replica_1 -C -c fast, réplique démarrée",
            in_recovery == "t" and "primary_slot_name = 'replica_1'" in auto,
            f"{took:.1f} s ; port {self.replica_port}, hot_standby = on, pg_is_in_recovery() = {in_recovery}",
        )
        row = self.psql(
            self.primary_port,
            "SELECT application_name || ' ' || state || ' ' || sync_state FROM pg_stat_replication",
        )
        slot = self.psql(
            self.primary_port, "SELECT slot_name || ' active=' || active FROM pg_replication_slots"
        )
        self.rep.check(
            "postgresql : pg_stat_replication sur le primaire", "streaming" in row, f"{row} ; slot {slot}"
        )

    def app(self) -> None:
        env = base_app_env(self.tmp.parent)
        env.update(
            {
                "SAMACONSO_DATABASE_URL": self.url(self.primary_port),
                "SAMACONSO_MIGRATION_DATABASE_URL": self.url(self.primary_port),
            }
        )
        t0 = time.monotonic()
        run([str(VENV / "samaconso"), "migrate"], env=env, timeout=300)
        tables = self.psql(
            self.replica_port,
            "SELECT count(*) FROM information_schema.tables WHERE table_schema='public'",
            "samaconso",
        )
        self.rep.check(
            "postgresql : samaconso migrate sur le primaire, schéma rejoué sur la réplique",
            int(tables or 0) > 10,
            f"{time.monotonic() - t0:.1f} s, {tables} tables lues sur la réplique",
        )
        admin_pw = "Eng-" + secrets.token_urlsafe(16)
        run(
            [str(VENV / "samaconso"), "staff", "create", "--login", "drill.admin", "--role", "admin",
             "--first-name", "Awa", "--last-name", "Ndiaye"],
            env=env, input_text=admin_pw + "\n",
        )  # fmt: skip
        env["SAMACONSO_DATABASE_READ_URL"] = self.url(self.replica_port)
        self.app_env = env
        log = (self.tmp / "api.log").open("wb")
        self.api = subprocess.Popen(
            [str(VENV / "samaconso"), "api", "--port", str(self.api_port)],
            env=env,
            stdout=log,
            stderr=log,
            cwd="/",
        )
        base = f"http://127.0.0.1:{self.api_port}"
        up = wait_for(lambda: http("GET", f"{base}/health")[0] == 200, 60, 0.5)
        if not self.rep.check("postgresql : samaconso api (SAMACONSO_DATABASE_READ_URL = réplique)", up):
            self.rep.info((self.tmp / "api.log").read_text()[-1500:])
            return
        status, body = http(
            "POST", f"{base}/api/v1/auth/staff/login", body={"login": "drill.admin", "password": admin_pw}
        )
        if not self.rep.check(
            "postgresql : connexion de l'administrateur (écrit sur le primaire)", status == 200, str(status)
        ):
            self.rep.info(str(body))
            return
        token = self.token = body["access_token"]

        def logins() -> list[str]:
            st, page = http("GET", f"{base}/api/v1/admin/users?limit=50", token)
            if st != 200:
                raise RuntimeError(f"{st} {page}")
            return [str(item.get("login")) for item in page["items"]]

        # Preuve que la liste vient de la réplique : rejeu suspendu, un compte créé sur le primaire
        # n'y est pas ; rejeu repris, il y est.
        self.psql(self.replica_port, "SELECT pg_wal_replay_pause()")
        run(
            [str(VENV / "samaconso"), "staff", "create", "--login", "drill.agent2", "--role", "admin",
             "--first-name", "Moussa", "--last-name", "Diop"],
            env={**env, "SAMACONSO_DATABASE_READ_URL": ""}, input_text=admin_pw + "x\n",
        )  # fmt: skip
        on_primary = self.psql(
            self.primary_port, "SELECT count(*) FROM users WHERE login='drill.agent2'", "samaconso"
        )
        paused = logins()
        self.rep.check(
            "postgresql : GET /api/v1/admin/users lu sur la réplique (rejeu suspendu)",
            on_primary == "1" and "drill.admin" in paused and "drill.agent2" not in paused,
            f"compte sur le primaire : {on_primary} ; la liste montre {sorted(paused)}",
        )
        self.psql(self.replica_port, "SELECT pg_wal_replay_resume()")
        t0 = time.monotonic()
        seen = wait_for(lambda: "drill.agent2" in logins(), 20, 0.05)
        self.rep.check(
            "postgresql : rejeu repris, le compte apparaît dans la liste",
            seen,
            f"{(time.monotonic() - t0) * 1000:.0f} ms après la reprise",
        )
        # Écrire par l'URL de lecture : la réplique refuse.
        import psycopg

        try:
            with psycopg.connect(self.url(self.replica_port, "postgresql"), connect_timeout=5) as conn:
                conn.execute("UPDATE users SET first_name = 'X' WHERE login = 'drill.admin'")
            refused, msg = False, "accepté"
        except psycopg.Error as exc:
            refused, msg = "read-only" in str(exc), str(exc).splitlines()[0]
        self.rep.check("postgresql : écriture par l'URL de lecture refusée par la réplique", refused, msg)

    def customers(self, port: int) -> int:
        return int(self.psql(port, "SELECT count(*) FROM users WHERE role = 'customer'", "samaconso"))

    def add_customer(self) -> None:
        """Un client inscrit, écrit sur le primaire (ce que fait l'inscription par OTP)."""
        phone = f"+22177{secrets.randbelow(10_000_000):07d}"  # des chiffres seulement
        sql = "INSERT INTO users (id, role, phone, first_name, last_name) VALUES "
        sql += f"(gen_random_uuid(), 'customer', '{phone}', 'Client', 'Exercice')"
        self.psql(self.primary_port, sql, "samaconso")

    def national_rollup(self, port: int) -> tuple[int, str] | None:
        row = self.psql(
            port,
            "SELECT (figures->'users'->>'customers') || ' ' || to_char(computed_at AT TIME ZONE 'UTC', "
            "'HH24:MI:SS') FROM dashboard_rollups WHERE scope = 'national'",
            "samaconso",
        )
        if not row:
            return None
        customers, at = row.split()
        return int(customers), at

    def refresh_in_worker(self) -> tuple[bool, str]:
        """La tâche du beat (samaconso.dashboard.tasks.housekeeping_refresh) dans un processus qui se
        construit comme un worker : SAMACONSO_DATABASE_URL = primaire, SAMACONSO_DATABASE_READ_URL = réplique."""
        code = (
            "import json, time\n"
            "from samaconso.dashboard.tasks import housekeeping_refresh\n"
            "t0 = time.perf_counter()\n"
            "ok = housekeeping_refresh()\n"
            "print(json.dumps({'ok': ok, 'ms': round((time.perf_counter() - t0) * 1000)}))\n"
        )
        try:
            out = run([str(VENV / "python"), "-c", code], env=self.app_env, timeout=300)
        except RuntimeError as exc:
            return False, str(exc)[-800:]
        last = json.loads(out.strip().splitlines()[-1])
        return bool(last["ok"]), f"{last['ms']} ms"

    def dashboard(self) -> None:
        """Le rafraîchissement du tableau de bord lit la réplique (transaction READ ONLY, aucune table
        temporaire : une réplique n'en accepte pas) et écrit ses agrégats sur le primaire."""
        if not self.app_env:
            self.rep.check("postgresql : tableau de bord (l'API n'a pas démarré)", False)
            return
        for _ in range(2):
            self.add_customer()
        replicated = wait_for(lambda: self.customers(self.replica_port) == 2, 20, 0.1)
        # Rejeu suspendu : un troisième client est sur le primaire seulement. Le compte lu dit d'où.
        self.psql(self.replica_port, "SELECT pg_wal_replay_pause()")
        self.add_customer()
        on_primary, on_replica = self.customers(self.primary_port), self.customers(self.replica_port)
        ok, took = self.refresh_in_worker()
        rollup = self.national_rollup(self.primary_port)
        self.rep.check(
            "postgresql : rafraîchissement du tableau de bord lu sur la réplique, écrit sur le primaire",
            replicated and ok and rollup is not None and rollup[0] == on_replica == 2 and on_primary == 3,
            f"tâche housekeeping_refresh {'réussie' if ok else 'en échec'} ({took}) ; clients : {on_primary} "
            f"sur le primaire, {on_replica} sur la réplique (rejeu suspendu) ; agrégat national écrit "
            f"sur le primaire : {rollup[0] if rollup else 'absent'} clients à {rollup[1] if rollup else '-'} UTC",
        )
        self.psql(self.replica_port, "SELECT pg_wal_replay_resume()")
        streamed = wait_for(lambda: self.national_rollup(self.replica_port) is not None, 20, 0.1)
        ok2, took2 = self.refresh_in_worker()
        after = self.national_rollup(self.primary_port)
        st, body = http("GET", f"http://127.0.0.1:{self.api_port}/api/v1/dashboard", self.token)
        shown = body.get("users", {}).get("customers") if isinstance(body, dict) else None
        self.rep.check(
            "postgresql : rejeu repris, le tableau de bord compte le troisième client",
            streamed and ok2 and after is not None and after[0] == 3 and st == 200 and shown == 3,
            f"agrégats rejoués sur la réplique : {'oui' if streamed else 'non'} ; second rafraîchissement "
            f"({took2}) : {after[0] if after else 'absent'} clients ; GET /api/v1/dashboard → {st}, "
            f"users.customers = {shown}",
        )

    def lag(self) -> None:
        import psycopg

        samples: list[float] = []
        with (
            psycopg.connect(
                self.url(self.primary_port, "postgresql"), autocommit=True, connect_timeout=5
            ) as pri,
            psycopg.connect(
                self.url(self.replica_port, "postgresql"), autocommit=True, connect_timeout=5
            ) as rep,
        ):
            pri.execute("CREATE TABLE drill_lag (id int PRIMARY KEY, at timestamptz DEFAULT now())")
            # la table d'abord rejouée sur la réplique (sinon la première lecture échoue : relation absente)
            wait_for(lambda: rep.execute("SELECT to_regclass('drill_lag')").fetchone() != (None,), 10, 0.02)
            for i in range(50):
                pri.execute("INSERT INTO drill_lag (id) VALUES (%s)", (i,))
                t0 = time.perf_counter()
                while rep.execute("SELECT 1 FROM drill_lag WHERE id = %s", (i,)).fetchone() is None:
                    if time.perf_counter() - t0 > 10:
                        break
                samples.append((time.perf_counter() - t0) * 1000)
        # pg_stat_replication ne montre ses positions qu'à un superutilisateur (pg_read_all_stats) : psql postgres
        view = self.psql(
            self.primary_port,
            "SELECT coalesce(round(extract(epoch FROM replay_lag) * 1000, 1)::text || ' ms', 'NULL (au repos)') || ', "
            "écart ' || pg_wal_lsn_diff(sent_lsn, replay_lsn) || ' octets' FROM pg_stat_replication",
        )
        samples.sort()
        p95 = samples[int(len(samples) * 0.95) - 1]
        self.rep.check(
            "postgresql : retard de rejeu mesuré (50 insertions validées, visibles sur la réplique)",
            max(samples) < 10_000,
            f"médiane {statistics.median(samples):.1f} ms, p95 {p95:.1f} ms, max {max(samples):.1f} ms ; "
            f"pg_stat_replication.replay_lag {view}",
        )

    def play(self) -> None:
        self.setup_primary()
        self.basebackup()
        self.app()
        self.dashboard()
        self.lag()

    def cleanup(self) -> None:
        if self.api is not None and self.api.poll() is None:
            self.api.send_signal(signal.SIGTERM)
            try:
                self.api.wait(15)
            except subprocess.TimeoutExpired:
                self.api.kill()
        for data in reversed(self.started):
            try:
                run(
                    [str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                    user="postgres",
                    check=False,
                )
            except Exception as exc:
                print(f"arrêt de {data}: {exc}", file=sys.stderr)


CLIENT = """
import json, sys, time
from samaconso.worker import celery_app
n, timeout = int(sys.argv[1]), float(sys.argv[2])
if sys.argv[3] == "send":
    ids = [celery_app.send_task("samaconso.system.echo", args=[f"drill-{i}"]).id for i in range(n)]
    print(json.dumps(ids))
else:
    ids = json.loads(sys.stdin.read()) if n == 0 else [
        celery_app.send_task("samaconso.system.echo", args=[f"drill-{i}"]).id for i in range(n)]
    t0, done = time.monotonic(), {}
    for tid in ids:
        res = celery_app.AsyncResult(tid)
        left = max(0.1, timeout - (time.monotonic() - t0))
        try:
            done[tid] = res.get(timeout=left)["payload"]
        except Exception as exc:
            done[tid] = None
    print(json.dumps({"sent": len(ids), "ok": sum(v is not None for v in done.values()),
                      "seconds": round(time.monotonic() - t0, 2)}))
"""


class RabbitDrill:
    VHOST = "samaconso"

    def __init__(self, tmp: Path, rep: Report) -> None:
        self.tmp, self.rep = tmp / "rmq", rep
        self.home = self.tmp / "home"
        self.nodes: dict[str, subprocess.Popen[bytes]] = {}
        self.worker: subprocess.Popen[bytes] | None = None
        self.epmd_started = False

    def env(self, node: str | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        env.update(
            {
                "HOME": str(self.home),
                "ERL_EPMD_PORT": str(EPMD_PORT),
                "ERL_EPMD_ADDRESS": "127.0.0.1",
                "RABBITMQ_CONF_ENV_FILE": str(self.tmp / "rabbitmq-env.conf"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.tmp / "enabled_plugins"),
            }
        )
        if node is not None:
            name, port, dist = next(n for n in RMQ_NODES if n[0] == node)
            short = name.split("@")[0]
            env.update(
                {
                    "RABBITMQ_NODENAME": name,
                    "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
                    "RABBITMQ_NODE_PORT": str(port),
                    "RABBITMQ_DIST_PORT": str(dist),
                    "RABBITMQ_MNESIA_BASE": str(self.tmp / short / "mnesia"),
                    "RABBITMQ_LOG_BASE": str(self.tmp / short / "log"),
                    "RABBITMQ_CONFIG_FILE": str(self.tmp / short / "rabbitmq.conf"),
                    "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.tmp / short / "advanced.config"),
                    "RABBITMQ_PID_FILE": str(self.tmp / short / "rabbit.pid"),
                }
            )
        return env

    def epmd(self, *args: str) -> str:
        return run(["epmd", "-port", str(EPMD_PORT), *args], env=self.env(), check=False, timeout=20)

    def registered(self, short_name: str) -> bool:
        return f"name {short_name} " in self.epmd("-names")

    def ctl(
        self, node: str, *args: str, tool: str = "rabbitmqctl", check: bool = True, timeout: float = 120
    ) -> str:
        argv = [f"/usr/lib/rabbitmq/bin/{tool}", "-n", node, *args]
        return run(argv, env=self.env(), check=check, timeout=timeout)

    def broker_url(self, nodes: list[tuple[str, int, int]] | None = None) -> str:
        return ";".join(
            f"amqp://guest:guest@127.0.0.1:{port}/{self.VHOST}" for _, port, _ in (nodes or RMQ_NODES)
        )

    def app_env(self, quorum: bool) -> dict[str, str]:
        env = base_app_env(self.tmp.parent)
        env["SAMACONSO_BROKER_URL"] = self.broker_url()
        env["SAMACONSO_CELERY_QUORUM_QUEUES"] = "true" if quorum else "false"
        return env

    def start_nodes(self) -> None:
        self.home.mkdir(parents=True)
        cookie = self.home / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(20))
        os.chmod(cookie, 0o400)
        (self.tmp / "rabbitmq-env.conf").write_text("")
        (self.tmp / "enabled_plugins").write_text("[].\n")
        # notre propre epmd (port 54369) : celui du RabbitMQ partagé (4369) n'est pas touché
        run(["epmd", "-port", str(EPMD_PORT), "-address", "127.0.0.1", "-daemon"], env=self.env())
        self.epmd_started = True
        t0 = time.monotonic()
        for name, port, _ in RMQ_NODES:
            short = name.split("@")[0]
            (self.tmp / short / "log").mkdir(parents=True)
            (self.tmp / short / "rabbitmq.conf").write_text(
                f"listeners.tcp.default = {port}\nloopback_users.guest = true\n"
                "log.console = false\nlog.file.level = info\n"
            )
            out = self.tmp / short / "server.out"
            with out.open("wb") as log:
                self.nodes[name] = subprocess.Popen(
                    ["/usr/lib/rabbitmq/bin/rabbitmq-server"],
                    env=self.env(name),
                    stdout=log,
                    stderr=log,
                    cwd="/",
                    start_new_session=True,
                )
            short_name = name.split("@")[0]
            try:
                # await_startup veut un nœud déjà inscrit auprès d'epmd
                registered = wait_for(partial(self.registered, short_name), 60, 0.5)
                if not registered:
                    raise RuntimeError("pas inscrit auprès d'epmd")
                self.ctl(name, "await_startup", "--timeout", "120", timeout=150)
            except RuntimeError as exc:
                raise RuntimeError(f"{name} : {exc} ; {out.read_text()[-1500:]}") from exc
        for name, _, _ in RMQ_NODES[1:]:
            self.ctl(name, "stop_app")
            self.ctl(name, "join_cluster", RMQ_NODES[0][0])
            self.ctl(name, "start_app")
        status = json.loads(self.ctl(RMQ_NODES[0][0], "cluster_status", "--formatter", "json"))
        running = sorted(status.get("running_nodes", []))
        self.rep.check(
            "rabbitmq : trois nœuds en cluster (join_cluster)",
            running == sorted(n for n, _, _ in RMQ_NODES),
            f"{time.monotonic() - t0:.1f} s ; running_nodes = {running} ; ports {[p for _, p, _ in RMQ_NODES]}",
        )
        first = RMQ_NODES[0][0]
        self.ctl(first, "add_vhost", self.VHOST)
        self.ctl(first, "set_permissions", "-p", self.VHOST, "guest", ".*", ".*", ".*")

    def queues(self, node: str | None = None) -> dict[str, dict[str, Any]]:
        node = node or next(n for n in RMQ_NODES if self.nodes[n[0]].poll() is None)[0]
        out = self.ctl(node, "list_queues", "-p", self.VHOST, "name", "type", "messages", "leader", "members",
                       "--formatter", "json")  # fmt: skip
        return {q["name"]: q for q in json.loads(out[out.index("[") :])}

    def start_worker(self, quorum: bool) -> None:
        ready = self.tmp / f"worker-ready-{quorum}"
        ready.unlink(missing_ok=True)
        log = (self.tmp / f"worker-{quorum}.log").open("wb")
        self.worker = subprocess.Popen(
            [str(VENV / "samaconso"), "worker", "--queues", "all", "--pool", "solo", "--concurrency", "1",
             "--name", f"engines-{'quorum' if quorum else 'classic'}@%h", "--quiet", "--ready-file", str(ready)],
            env=self.app_env(quorum), stdout=log, stderr=log, cwd="/",
        )  # fmt: skip
        if not wait_for(ready.exists, 90, 0.5):
            raise RuntimeError("worker pas prêt : " + (self.tmp / f"worker-{quorum}.log").read_text()[-1500:])

    def stop_worker(self) -> None:
        if self.worker is not None and self.worker.poll() is None:
            self.worker.send_signal(signal.SIGTERM)
            try:
                self.worker.wait(30)
            except subprocess.TimeoutExpired:
                self.worker.kill()
                self.worker.wait(10)
        self.worker = None

    def client(self, n: int, mode: str, quorum: bool, stdin: str | None = None, timeout: float = 60) -> Any:
        out = run([str(VENV / "python"), "-c", CLIENT, str(n), str(timeout), mode], env=self.app_env(quorum),
                  input_text=stdin, timeout=timeout + 60)  # fmt: skip
        return json.loads(out.strip().splitlines()[-1])

    def play(self) -> None:
        self.start_nodes()
        # 1. L'état de départ de la production : files classiques, des tâches en attente.
        self.start_worker(quorum=False)
        self.stop_worker()
        ids = self.client(30, "send", quorum=False)
        before = self.queues()
        self.rep.check(
            "rabbitmq : départ en files classiques, 30 tâches en attente (worker arrêté)",
            all(before[q]["type"] == "classic" for q in QUEUES) and before["normal"]["messages"] == 30,
            ", ".join(f"{q} {before[q]['type']} {before[q]['messages']}" for q in QUEUES),
        )
        # 2. Migration (§13.3) : un worker vide les files, vérifier 0, supprimer, redéclarer quorum.
        self.start_worker(quorum=False)
        drained = self.client(0, "wait", quorum=False, stdin=json.dumps(ids))
        self.stop_worker()
        after = self.queues()
        empty = all(after[q]["messages"] == 0 for q in QUEUES)
        self.rep.check(
            "rabbitmq : files vidées par un worker avant la migration, aucune tâche perdue",
            drained["ok"] == 30 and empty,
            f"{drained['ok']}/30 résultats en {drained['seconds']} s ; messages : "
            + ", ".join(f"{q} {after[q]['messages']}" for q in QUEUES),
        )
        for q in QUEUES:
            self.ctl(RMQ_NODES[0][0], "delete_queue", "-p", self.VHOST, q)
        self.start_worker(quorum=True)
        quorum = self.queues()
        members_ok = all(quorum[q]["type"] == "quorum" and len(quorum[q]["members"]) == 3 for q in QUEUES)
        self.rep.check(
            "rabbitmq : redéclarées par samaconso worker (SAMACONSO_CELERY_QUORUM_QUEUES=true)",
            members_ok,
            "; ".join(f"{q} {quorum[q]['type']} {len(quorum[q]['members'])} membres, leader {quorum[q]['leader']}"
                      for q in QUEUES),
        )  # fmt: skip
        trip = self.client(20, "roundtrip", quorum=True)
        self.rep.check(
            "rabbitmq : aller-retour samaconso.system.echo sur files quorum",
            trip["ok"] == 20,
            f"{trip['ok']}/20 en {trip['seconds']} s",
        )
        # 3. Le nœud qui mène la file normal est arrêté : le worker consomme encore.
        leader = str(quorum["normal"]["leader"])
        t0 = time.monotonic()
        self.ctl(leader, "stop", timeout=120)
        self.nodes[leader].wait(60)
        stop_s = time.monotonic() - t0
        t0 = time.monotonic()
        trip = self.client(20, "roundtrip", quorum=True, timeout=90)
        new = self.queues()
        self.rep.check(
            f"rabbitmq : nœud leader de « normal » ({leader}) arrêté, le worker consomme encore",
            trip["ok"] == 20 and str(new["normal"]["leader"]) != leader and self.worker is not None
            and self.worker.poll() is None,
            f"arrêt {stop_s:.1f} s ; {trip['ok']}/20 tâches en {time.monotonic() - t0:.1f} s ; nouveau leader "
            f"{new['normal']['leader']}, membres {new['normal']['members']}",
        )  # fmt: skip

    def cleanup(self) -> None:
        self.stop_worker()
        for name, proc in self.nodes.items():
            if proc.poll() is None:
                self.ctl(name, "stop", check=False, timeout=60)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    pass
            try:  # le groupe de processus de ce nœud (script, beam, erl_child_setup), et lui seul
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.epmd_started:
            # notre epmd (port 54369), pas celui du RabbitMQ partagé (4369)
            self.epmd("-kill")


# ------------------------------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["postgresql", "rabbitmq"])
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("à lancer en root (compte postgres, nœuds RabbitMQ)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="samaconso-engines-"))
    os.chmod(tmp, 0o755)
    rep = Report()
    drills: list[Any] = []
    if args.only in (None, "postgresql"):
        drills.append(PostgresDrill(tmp, rep))
    if args.only in (None, "rabbitmq"):
        drills.append(RabbitDrill(tmp, rep))
    try:
        for drill in drills:
            try:
                drill.play()
            except Exception as exc:
                rep.check(f"{type(drill).__name__} : exception", False, str(exc)[-1500:])
            finally:
                drill.cleanup()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"résultat : {'réussi' if rep.ok else 'échec'}", flush=True)
    return 0 if rep.ok else 1


if __name__ == "__main__":
    sys.exit(main())
