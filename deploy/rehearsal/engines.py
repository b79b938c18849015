"""Exercice « les deux moteurs en haute disponibilité » (deploy/README.md §13.3), joué sur cette machine.

1. PostgreSQL 15 en réplique de streaming : un primaire jetable (port 55432) configuré par les
   fichiers du dépôt (deploy/server1-data/postgresql/samaconso.conf et pg_hba.conf, plus la ligne
   `host replication replication <réplique>/32 scram-sha-256` du §13.3), rôle `replication`,
   `pg_basebackup -R -X stream -S replica_1 -C` vers une réplique (port 55433, hot_standby = on) ;
   schéma de l'application migré (`samaconso migrate`), administrateur créé (`samaconso staff
   create`), puis la vraie API (`samaconso api`) avec SAMACONSO_DATABASE_READ_URL = la réplique :
   GET /api/v1/admin/users lu sur la réplique (rejeu suspendu : le compte créé sur le primaire
   n'apparaît pas ; rejeu repris : il apparaît), pg_stat_replication = streaming, une écriture par
   l'URL de lecture refusée, retard de rejeu mesuré.
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
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PG_CONF_DIR = REPO / "deploy" / "server1-data" / "postgresql"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
VENV = REPO / ".venv" / "bin"
PRIMARY_PORT, REPLICA_PORT, API_PORT = 55432, 55433, 58081
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
        except Exception:  # noqa: BLE001, S110 - on réessaie jusqu'à l'échéance
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
        self.started: list[Path] = []

    def psql(self, port: int, sql: str, db: str = "postgres") -> str:
        argv = [str(PG_BIN / "psql"), "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1"]
        argv += ["-h", str(self.sock), "-p", str(port), "-d", db, "-c", sql]
        return run(argv, user="postgres").strip()

    def pg_ctl(self, data: Path, action: str) -> None:
        log = data.parent / f"{data.name}.log"
        run([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "90", action], user="postgres")
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
        (self.primary / "drill.conf").write_text(PG_DRILL_OVERRIDES.format(port=PRIMARY_PORT, sock=self.sock))
        with conf.open("a") as fh:
            fh.write("include 'samaconso.conf'\ninclude 'drill.conf'\n")
        hba = (PG_CONF_DIR / "pg_hba.conf").read_text().splitlines(keepends=True)
        reject = next(i for i, line in enumerate(hba) if line.startswith("host") and "reject" in line)
        hba.insert(reject, REPLICATION_LINE.format(addr="127.0.0.1"))  # la ligne du §13.3, avant les rejets
        (self.primary / "pg_hba.conf").write_text("".join(hba))
        subprocess.run(["chown", "-R", "postgres:postgres", str(self.tmp)], check=True)
        self.pg_ctl(self.primary, "start")
        self.psql(
            PRIMARY_PORT,
            f"CREATE ROLE samaconso LOGIN PASSWORD '{self.app_password}';"
            f"CREATE ROLE replication WITH REPLICATION LOGIN PASSWORD '{self.repl_password}';",
        )
        self.psql(PRIMARY_PORT, "CREATE DATABASE samaconso OWNER samaconso")
        self.rep.check(
            "postgresql : primaire avec samaconso.conf et pg_hba.conf du dépôt",
            self.psql(PRIMARY_PORT, "SHOW wal_level") == "replica",
            f"port {PRIMARY_PORT}, wal_level = replica, ligne « host replication replication 127.0.0.1/32 »",
        )

    def basebackup(self) -> None:
        t0 = time.monotonic()
        env = {"PGPASSWORD": self.repl_password, "PATH": os.environ.get("PATH", "")}
        run(
            ["runuser", "-u", "postgres", "--", "env", f"PGPASSWORD={self.repl_password}",
             str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(PRIMARY_PORT), "-U", "replication",
             "-D", str(self.replica), "-R", "-X", "stream", "-S", "replica_1", "-C", "-c", "fast"],
            env=env,
        )  # fmt: skip
        took = time.monotonic() - t0
        (self.replica / "drill.conf").write_text(PG_DRILL_OVERRIDES.format(port=REPLICA_PORT, sock=self.sock))
        auto = (self.replica / "postgresql.auto.conf").read_text()
        self.pg_ctl(self.replica, "start")
        in_recovery = self.psql(REPLICA_PORT, "SELECT pg_is_in_recovery()")
        self.rep.check(
            "postgresql : pg_basebackup -R -X stream -S replica_1 -C, réplique démarrée",
            in_recovery == "t" and "primary_slot_name = 'replica_1'" in auto,
            f"{took:.1f} s ; port {REPLICA_PORT}, hot_standby = on, pg_is_in_recovery() = {in_recovery}",
        )
        row = self.psql(
            PRIMARY_PORT,
            "SELECT application_name || ' ' || state || ' ' || sync_state FROM pg_stat_replication",
        )
        slot = self.psql(PRIMARY_PORT, "SELECT slot_name || ' active=' || active FROM pg_replication_slots")
        self.rep.check(
            "postgresql : pg_stat_replication sur le primaire", "streaming" in row, f"{row} ; slot {slot}"
        )

    def app(self) -> None:
        env = base_app_env(self.tmp.parent)
        env.update(
            {
                "SAMACONSO_DATABASE_URL": self.url(PRIMARY_PORT),
                "SAMACONSO_MIGRATION_DATABASE_URL": self.url(PRIMARY_PORT),
            }
        )
        t0 = time.monotonic()
        run([str(VENV / "samaconso"), "migrate"], env=env, timeout=300)
        tables = self.psql(
            REPLICA_PORT, "SELECT count(*) FROM information_schema.tables WHERE table_schema='public'", "samaconso"
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
        env["SAMACONSO_DATABASE_READ_URL"] = self.url(REPLICA_PORT)
        log = (self.tmp / "api.log").open("wb")
        self.api = subprocess.Popen(
            [str(VENV / "samaconso"), "api", "--port", str(API_PORT)], env=env, stdout=log, stderr=log, cwd="/"
        )
        base = f"http://127.0.0.1:{API_PORT}"
        up = wait_for(lambda: http("GET", f"{base}/health")[0] == 200, 60, 0.5)
        if not self.rep.check("postgresql : samaconso api (SAMACONSO_DATABASE_READ_URL = réplique)", up):
            self.rep.info((self.tmp / "api.log").read_text()[-1500:])
            return
        status, body = http("POST", f"{base}/api/v1/auth/staff/login", body={"login": "drill.admin", "password": admin_pw})
        if not self.rep.check("postgresql : connexion de l'administrateur (écrit sur le primaire)", status == 200, str(status)):
            self.rep.info(str(body))
            return
        token = body["access_token"]

        def logins() -> list[str]:
            st, page = http("GET", f"{base}/api/v1/admin/users?limit=50", token)
            if st != 200:
                raise RuntimeError(f"{st} {page}")
            return [str(item.get("login")) for item in page["items"]]

        # Preuve que la liste vient de la réplique : rejeu suspendu, un compte créé sur le primaire
        # n'y est pas ; rejeu repris, il y est.
        self.psql(REPLICA_PORT, "SELECT pg_wal_replay_pause()")
        run(
            [str(VENV / "samaconso"), "staff", "create", "--login", "drill.agent2", "--role", "admin",
             "--first-name", "Moussa", "--last-name", "Diop"],
            env={**env, "SAMACONSO_DATABASE_READ_URL": ""}, input_text=admin_pw + "x\n",
        )  # fmt: skip
        on_primary = self.psql(PRIMARY_PORT, "SELECT count(*) FROM users WHERE login='drill.agent2'", "samaconso")
        paused = logins()
        self.rep.check(
            "postgresql : GET /api/v1/admin/users lu sur la réplique (rejeu suspendu)",
            on_primary == "1" and "drill.admin" in paused and "drill.agent2" not in paused,
            f"compte sur le primaire : {on_primary} ; la liste montre {sorted(paused)}",
        )
        self.psql(REPLICA_PORT, "SELECT pg_wal_replay_resume()")
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
            with psycopg.connect(self.url(REPLICA_PORT, "postgresql"), connect_timeout=5) as conn:
                conn.execute("UPDATE users SET first_name = 'X' WHERE login = 'drill.admin'")
            refused, msg = False, "accepté"
        except psycopg.Error as exc:
            refused, msg = "read-only" in str(exc), str(exc).splitlines()[0]
        self.rep.check("postgresql : écriture par l'URL de lecture refusée par la réplique", refused, msg)

    def lag(self) -> None:
        import psycopg

        samples: list[float] = []
        with (
            psycopg.connect(self.url(PRIMARY_PORT, "postgresql"), autocommit=True, connect_timeout=5) as pri,
            psycopg.connect(self.url(REPLICA_PORT, "postgresql"), autocommit=True, connect_timeout=5) as rep,
        ):
            pri.execute("CREATE TABLE drill_lag (id int PRIMARY KEY, at timestamptz DEFAULT now())")
            for i in range(50):
                pri.execute("INSERT INTO drill_lag (id) VALUES (%s)", (i,))
                t0 = time.perf_counter()
                while rep.execute("SELECT 1 FROM drill_lag WHERE id = %s", (i,)).fetchone() is None:
                    if time.perf_counter() - t0 > 10:
                        break
                samples.append((time.perf_counter() - t0) * 1000)
            view = pri.execute(
                "SELECT coalesce(extract(epoch FROM replay_lag) * 1000, 0), "
                "pg_wal_lsn_diff(sent_lsn, replay_lsn) FROM pg_stat_replication"
            ).fetchone()
        samples.sort()
        p95 = samples[int(len(samples) * 0.95) - 1]
        self.rep.check(
            "postgresql : retard de rejeu mesuré (50 insertions validées, visibles sur la réplique)",
            max(samples) < 10_000,
            f"médiane {statistics.median(samples):.1f} ms, p95 {p95:.1f} ms, max {max(samples):.1f} ms ; "
            f"pg_stat_replication.replay_lag {view[0] if view else '?'} ms, écart {view[1] if view else '?'} octets",
        )

    def play(self) -> None:
        self.setup_primary()
        self.basebackup()
        self.app()
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
                run([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], user="postgres", check=False)
            except Exception as exc:  # noqa: BLE001
                print(f"arrêt de {data}: {exc}", file=sys.stderr)


class RabbitDrill:  # placeholder filled below
    def __init__(self, tmp, rep): pass
    def play(self): pass
    def cleanup(self): pass


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
            except Exception as exc:  # noqa: BLE001 - l'étape échoue, le nettoyage se fait quand même
                rep.check(f"{type(drill).__name__} : exception", False, str(exc)[-1500:])
            finally:
                drill.cleanup()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"résultat : {'réussi' if rep.ok else 'échec'}", flush=True)
    return 0 if rep.ok else 1


if __name__ == "__main__":
    sys.exit(main())
