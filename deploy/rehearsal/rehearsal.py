#!/usr/bin/env python3
"""Répétition de la mise en production sur une seule machine (lancée par ``make rehearsal``).

Les trois serveurs, le répartiteur, un poste d'administration et un client sont des espaces de
noms réseau (``ip netns``) reliés par un pont, avec les adresses du plan de production
(deploy/firewall/samaconso-addresses.nft). Chaque « serveur » exécute les vrais processus avec les
fichiers de deploy/ : PostgreSQL 15 + PgBouncer, S3, RabbitMQ, Redis, api_1/api_2, worker_1/worker_2,
beat, Flower, HAProxy (doublure du F5) et les règles nftables de chaque serveur. Différences avec la
production, toutes affichées : pas de Docker (les commandes des fichiers compose sont lancées depuis
le virtualenv), SeaweedFS (``weed mini``) tient le rôle de MinIO, tailles mémoire réduites, SMS/push
vers les fichiers « outbox », systèmes existants simulés.

Tout ce qui est créé (espaces de noms, processus, répertoire temporaire) est détruit à la fin, même
en cas d'échec ou d'interruption. Aucun trafic ne sort des espaces de noms créés ici.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))  # netns.py, scenario.py: siblings

from growth import run_growth
from netns import (
    APP_USER,
    DEPLOY,
    REPO,
    VENV_BIN,
    StepFailed,
    base_env,
    compose_commands,
    ns_argv,
    parse_env_file,
    run,
    run_drill,
    weed_argv,
)
from scenario import run_scenario

PG_BIN = Path("/usr/lib/postgresql/15/bin")
CLONE_NEWNET = 0x40000000
# Les processus applicatifs tournent en root ici : le Python du virtualenv de cette machine est sous
# /root (inaccessible à un autre utilisateur). L'image de production, elle, tourne en uid 10001.
TAG = f"scr{os.getpid() % 100000}"  # préfixe unique des espaces de noms de cette répétition


# --------------------------------------------------------------------------------------------
# Journal et rapport
# --------------------------------------------------------------------------------------------
T0 = time.monotonic()


# Jetons dans les extraits de réponses : jamais dans le journal, même ceux d'une répétition jetable.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*){0,2}")
_TOKEN_KEYS = re.compile(r'("(?:access_token|refresh_token)"\s*:\s*)"[^"]*"?')
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+")


def mask_secrets(text: str) -> str:
    """Remplace les JWT et les valeurs des clés access_token/refresh_token par « … »."""
    text = _TOKEN_KEYS.sub(r'\1"…"', text)
    text = _BEARER.sub(r"\1…", text)
    return _JWT.sub("…", text)


def say(msg: str) -> None:
    print(f"[{time.monotonic() - T0:6.1f}s] {mask_secrets(msg)}", flush=True)


@dataclass
class Step:
    name: str
    status: str  # OK, FAILED, SKIPPED
    detail: str = ""


@dataclass
class Report:
    steps: list[Step] = field(default_factory=list)

    def ok(self, name: str, detail: str = "") -> None:
        self.steps.append(Step(name, "OK", mask_secrets(detail)))
        say(f"OK      {name}  {detail}")

    def failed(self, name: str, detail: str) -> None:
        self.steps.append(Step(name, "FAILED", mask_secrets(detail)))
        say(f"FAILED  {name}  {detail}")

    def gap(self, name: str, detail: str) -> None:
        """Un défaut de la plate-forme, constaté et signalé (ne fait pas échouer la répétition)."""
        self.steps.append(Step(name, "GAP", mask_secrets(detail)))
        say(f"GAP     {name}  {detail}")

    def skipped(self, name: str, detail: str) -> None:
        self.steps.append(Step(name, "SKIPPED", mask_secrets(detail)))
        say(f"SKIPPED {name}  {detail}")

    def check(self, name: str, condition: bool, detail: str) -> bool:
        (self.ok if condition else self.failed)(name, detail)
        return condition

    def print(self) -> None:
        print("\n==================== Répétition : résultat ====================")
        for s in self.steps:
            print(f"{s.status:8} {s.name}" + (f" — {s.detail}" if s.detail else ""))
        n = {k: sum(1 for s in self.steps if s.status == k) for k in ("OK", "FAILED", "SKIPPED", "GAP")}
        if n["GAP"]:
            print(
                f"{n['GAP']} défaut(s) de la plate-forme constaté(s) (GAP) : à corriger avant la mise en production"
            )
        print(
            f"{n['OK']} passed, {n['FAILED']} failed" + (f", {n['SKIPPED']} skipped" if n["SKIPPED"] else "")
        )

    @property
    def success(self) -> bool:
        return bool(self.steps) and all(s.status != "FAILED" for s in self.steps)


# --------------------------------------------------------------------------------------------
# Plan d'adressage : lu dans deploy/firewall/samaconso-addresses.nft (le même qu'en production)
# --------------------------------------------------------------------------------------------
def address_plan() -> dict[str, str]:
    text = (DEPLOY / "firewall" / "samaconso-addresses.nft").read_text()
    found = dict(re.findall(r"^define (\w+)\s*=\s*([^#\n]+?)\s*(?:#.*)?$", text, re.M))
    lbs = re.findall(r"[\d.]+", found["LOAD_BALANCERS"])
    admin_net = found["ADMIN_NET"].split("/")[0].rsplit(".", 1)[0]
    return {
        "data": found["SRV_DATA"],
        "api": found["SRV_API"],
        "workers": found["SRV_WORKERS"],
        "lb": lbs[0],
        "admin": f"{admin_net}.10",
        "client": "10.20.50.10",
        "vip": "10.20.0.100",
    }


def files_public_url() -> str:
    """L'adresse publique des liens présignés (.env.production.example), la même qu'en production."""
    return parse_env_file(REPO / ".env.production.example")["SAMACONSO_S3_PUBLIC_ENDPOINT_URL"]


# --------------------------------------------------------------------------------------------
# Commandes et processus dans les espaces de noms
# --------------------------------------------------------------------------------------------


def s3_identities(admin: tuple[str, str], app: tuple[str, str], backup: tuple[str, str]) -> dict[str, Any]:
    """Les politiques MinIO du dépôt (samaconso-policy.json, samaconso-backup-policy.json) traduites en
    droits SeaweedFS : s3:ListBucket → List, s3:GetObject → Read, s3:PutObject/DeleteObject → Write,
    sur les compartiments qu'elles nomment ; une politique qui accorde autre chose arrête la répétition."""
    minio = DEPLOY / "server1-data" / "minio"
    translate = {"s3:GetBucketLocation": [], "s3:ListBucket": ["List"], "s3:GetObject": ["Read"]}
    translate |= {"s3:PutObject": ["Write"], "s3:DeleteObject": ["Write"]}
    identities = [{"name": "admin", "credentials": [{"accessKey": admin[0], "secretKey": admin[1]}],
                   "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]  # fmt: skip
    for name, (key, secret), policy_file in (
        ("app", app, "samaconso-policy.json"),
        ("backup", backup, "samaconso-backup-policy.json"),
    ):
        actions: set[str] = set()
        for statement in json.loads((minio / policy_file).read_text())["Statement"]:
            buckets = {r.removeprefix("arn:aws:s3:::").split("/")[0] for r in statement["Resource"]}
            for action in statement["Action"]:
                if action not in translate:
                    raise StepFailed(f"{policy_file} : droit {action} non prévu (trop large ?)")
                actions |= {f"{kind}:{b}" for kind in translate[action] for b in buckets}
        identities.append(
            {
                "name": name,
                "credentials": [{"accessKey": key, "secretKey": secret}],
                "actions": sorted(actions),
            }
        )
    return {"identities": identities}


@dataclass
class Proc:
    name: str
    ns: str
    argv: list[str]
    log: Path
    env: dict[str, str] | None = None
    cwd: Path | None = None
    user: str | None = None
    ulimit_nofile: int | None = None
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        argv = ns_argv(self.ns, self.argv, self.user)
        if self.ulimit_nofile:
            import resource

            limit = min(self.ulimit_nofile, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
            argv = ["prlimit", f"--nofile={limit}:{limit}", "--", *argv]
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        return self

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def send(self, sig: int) -> None:
        if self.popen is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, sig)

    def stop(self, timeout: float = 20.0, sig: int = signal.SIGTERM) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.send(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.send(signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.popen.wait(5)
        self.send(signal.SIGKILL)  # ce qui resterait du groupe (enfants Celery…)

    def tail(self, n: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def ns_tcp_open(ns: str, host: str, port: int, timeout: float = 1.0) -> bool:
    res = subprocess.run(
        ns_argv(ns, ["timeout", str(timeout), "bash", "-c", f"exec 3<>/dev/tcp/{host}/{port}"]),
        capture_output=True,
        timeout=timeout + 5,
    )
    return res.returncode == 0


def wait_until(what: str, check: Callable[[], bool], timeout: float, proc: Proc | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc is not None and not proc.alive:
            raise StepFailed(f"{what}: le processus {proc.name} s'est arrêté\n{proc.tail()}")
        time.sleep(0.3)
    raise StepFailed(f"{what}: pas prêt après {timeout:.0f}s" + (f"\n{proc.tail()}" if proc else ""))


def setns(path: str) -> None:
    """Place le fil principal de ce processus dans un autre espace de noms réseau."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns({path})")
    finally:
        os.close(fd)


# --------------------------------------------------------------------------------------------
# Fichiers de configuration de deploy/
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# La répétition
# --------------------------------------------------------------------------------------------
class Rehearsal:
    def __init__(self) -> None:
        self.report = Report()
        self.addr = address_plan()
        self.tmp = Path(tempfile.mkdtemp(prefix="samaconso-rehearsal-"))
        os.chmod(self.tmp, 0o755)
        self.ns = {
            role: f"{TAG}-{role}" for role in ("net", "lb", "data", "api", "workers", "admin", "client")
        }
        self.procs: dict[str, Proc] = {}
        self.host_netns_fd: int | None = None
        self.netns_etc_created = False
        self.secrets = self.tmp / "secrets"
        self.app_env: dict[str, dict[str, str]] = {}
        self.overrides: dict[str, str] = {}
        self.compose = {
            **compose_commands(DEPLOY / "docker-compose.production.yml"),
            **compose_commands(DEPLOY / "docker-compose.workers.yml"),
        }

    # ---- network ---------------------------------------------------------------------------
    def build_network(self) -> None:
        net = self.ns["net"]
        for ns in self.ns.values():
            run(["ip", "netns", "add", ns])
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
        run(["ip", "-n", net, "link", "add", "br0", "type", "bridge"])
        run(["ip", "-n", net, "link", "set", "br0", "up"])
        for role in ("lb", "data", "api", "workers", "admin", "client"):
            self.plug(role)
        run(["ip", "-n", self.ns["lb"], "addr", "add", f"{self.addr['vip']}/16", "dev", "eth0"])
        # Le téléphone résout le nom public des fichiers vers la VIP (DNS public en production) :
        # `ip netns exec` monte /etc/netns/<espace>/hosts sur /etc/hosts.
        self.files_host = files_public_url().split("://", 1)[1].split("/", 1)[0]
        self.netns_etc_created = not Path("/etc/netns").exists()
        hosts = Path("/etc/netns") / self.ns["client"] / "hosts"
        hosts.parent.mkdir(parents=True, exist_ok=True)
        hosts.write_text(f"127.0.0.1 localhost\n::1 localhost\n{self.addr['vip']} {self.files_host}\n")
        os.chmod(hosts, 0o644)
        self.report.ok(
            "réseau",
            " ".join(f"{r}={self.addr[r]}" for r in ("lb", "data", "api", "workers", "admin", "client"))
            + f" vip={self.addr['vip']} (espaces {TAG}-*)",
        )

    def plug(self, role: str) -> None:
        """Relie l'espace de noms ``role`` au pont (veth), à l'adresse ``self.addr[role]``."""
        net, ns = self.ns["net"], self.ns[role]
        run(
            ["ip", "-n", net, "link", "add", f"p-{role}", "type", "veth", "peer", "name", "eth0", "netns", ns]
        )
        run(["ip", "-n", net, "link", "set", f"p-{role}", "master", "br0", "up"])
        run(["ip", "-n", ns, "addr", "add", f"{self.addr[role]}/16", "dev", "eth0"])
        run(["ip", "-n", ns, "link", "set", "eth0", "up"])

    def add_host(self, role: str, address: str) -> None:
        """Un serveur de plus (montée en charge) : espace de noms, adresse, répertoires et secrets."""
        self.ns[role] = ns = f"{TAG}-{role}"
        self.addr[role] = address
        run(["ip", "netns", "add", ns])
        run(["ip", "-n", ns, "link", "set", "lo", "up"])
        self.plug(role)
        self.server_dirs(role)

    def spawn(self, name: str, role: str, argv: list[str], env: dict[str, str], server: str) -> Proc:
        """Un service de l'application sur le serveur ``role`` (répertoire ``server``)."""
        self.procs[name] = proc = Proc(
            name,
            self.ns[role],
            argv,
            self.tmp / "logs" / f"{name}.log",
            env=env,
            user=APP_USER,
            cwd=self.tmp / server,
            ulimit_nofile=65536,
        ).start()
        return proc

    def apply_firewalls(self) -> None:
        fw = DEPLOY / "firewall"
        for role, file in (
            ("data", "server1-data.nft"),
            ("api", "server2-api.nft"),
            ("workers", "server3-workers.nft"),
        ):
            run(ns_argv(self.ns[role], ["nft", "-I", str(fw), "-f", str(fw / file)]))
        self.report.ok("pare-feu nftables", "server1-data.nft, server2-api.nft, server3-workers.nft chargés")

    # ---- secrets and environment -----------------------------------------------------------
    def make_secrets(self) -> None:
        env = {
            **base_env(),
            "SRV_DATA": self.addr["data"],
            "SRV_API": self.addr["api"],
            "SRV_WORKERS": self.addr["workers"],
        }
        run(["bash", str(DEPLOY / "scripts" / "make-secrets.sh"), str(self.secrets)], env=env)
        for server in ("api", "workers"):
            self.server_dirs(server)
        self.report.ok("secrets", "make-secrets.sh : fichiers générés, 0600, aucun dans l'environnement")

    def server_dirs(self, server: str) -> None:
        """Répertoires d'un serveur applicatif : données, et une copie des secrets lisible par
        l'utilisateur du service (comme /run/secrets)."""
        d = self.tmp / server / "secrets"
        d.mkdir(parents=True)
        for f in self.secrets.iterdir():
            # Fichiers vides = éléments fournis par des tiers (Orange, AD, PKI…) : absents ici.
            if f.name.startswith("samaconso_") and f.stat().st_size > 0:
                shutil.copy(f, d / f.name)
        # Répétition : la source existante simulée (doublure de SQL Server) est chargée dans des
        # schémas sic/histh2mc/bi_ods de la base de l'application, par PgBouncer.
        # Connexion directe à PostgreSQL (:5432, ouvert aux serveurs applicatifs) : la source simulée
        # garde un cache d'instructions préparées, incompatible avec le pooling par transaction.
        direct = (self.secrets / "samaconso_database_url").read_text().replace(":6432/", ":5432/")
        (d / "samaconso_legacy_simulated_url").write_text(direct)
        os.chmod(d / "samaconso_legacy_simulated_url", 0o600)
        (self.tmp / server / "data").mkdir(parents=True)
        os.chmod(d, 0o700)

    def app_environment(self, server: str, instance: str) -> dict[str, str]:
        env = parse_env_file(REPO / ".env.production.example")
        self.overrides = {
            "SAMACONSO_DATA_DIR": f"<tmp>/{server}/data",
            "SAMACONSO_SECRETS_DIR": f"<tmp>/{server}/secrets",
            "SAMACONSO_PUBLIC_BASE_URL": f"https://{self.addr['vip']}",
            "SAMACONSO_SMS_BACKEND": "file (outbox, au lieu d'Orange SMS Pro)",
            "SAMACONSO_PUSH_BACKEND": "file (outbox, au lieu de FCM)",
            "SAMACONSO_LDAP_ENABLED": "false (pas d'Active Directory ici)",
            "SAMACONSO_LEGACY_BACKEND": "simulated (schémas SQL Server simulés dans la base de l'application, :5432 direct)",
            "SAMACONSO_XMLVEND_ENABLED": "false (pas de serveur de vente ici)",
            "SAMACONSO_FCM_CREDENTIALS_FILE, _XMLVEND_CLIENT_P12, _FCM_PROXY_URL": "retirés",
            "SAMACONSO_S3_PUBLIC_ENDPOINT_URL": (
                f"{files_public_url()} (valeur de production ; résolu vers la VIP {self.addr['vip']} par "
                f"/etc/netns/{self.ns['client']}/hosts ; HTTPS avec le certificat de test de HAProxy ; "
                "routage par Host sur la VIP de l'API, le F5 ayant un virtuel dédié samaconso_files_vs)"
            ),
        }
        env.update(
            {
                "SAMACONSO_DATA_DIR": str(self.tmp / server / "data"),
                "SAMACONSO_SECRETS_DIR": str(self.tmp / server / "secrets"),
                "SAMACONSO_PUBLIC_BASE_URL": f"https://{self.addr['vip']}",
                "SAMACONSO_SMS_BACKEND": "file",
                "SAMACONSO_PUSH_BACKEND": "file",
                "SAMACONSO_LDAP_ENABLED": "false",
                "SAMACONSO_LEGACY_BACKEND": "simulated",
                "SAMACONSO_XMLVEND_ENABLED": "false",
                "SAMACONSO_INSTANCE_NAME": instance,
                "SAMACONSO_PUBLIC_DOCS": "true",  # the scenario lists the routes from /openapi.json
                "SAMACONSO_S3_PUBLIC_ENDPOINT_URL": files_public_url(),
            }
        )
        for key in (
            "SAMACONSO_FCM_CREDENTIALS_FILE",
            "SAMACONSO_XMLVEND_CLIENT_P12",
            "SAMACONSO_FCM_PROXY_URL",
        ):
            env.pop(key, None)
        env.update(
            {
                "PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
                "LANG": "C.UTF-8",
                "TZ": "UTC",
                "HOME": str(self.tmp / server),
            }
        )
        return env

    def pgbouncer_admin_console(self, ns: str, bouncer: Path) -> None:
        """Le chemin d'administration du runbook (3 h du matin) : SHOW POOLS par le socket unix en tant
        que postgres (peer, pgbouncer_hba.conf) répond en moins de 5 s ; un autre compte est refusé."""
        console = ["psql", "-X", "-A", "-t", "-h", str(bouncer), "-p", "6432", "-U", "postgres", "pgbouncer"]
        started = time.monotonic()
        res = run(ns_argv(ns, [*console, "-c", "SHOW POOLS"], user="postgres"), check=False, timeout=10)
        elapsed = time.monotonic() - started
        other = run(ns_argv(ns, [*console, "-c", "SHOW POOLS"], user="nobody"), check=False, timeout=10)
        self.report.check(
            "PgBouncer : console d'administration (runbook)",
            res.returncode == 0
            and "pgbouncer|pgbouncer" in res.stdout
            and elapsed < 5
            and other.returncode != 0,
            f"sudo -u postgres psql -h <socket> -p 6432 -U postgres pgbouncer -c 'SHOW POOLS' : "
            f"code {res.returncode} en {elapsed:.2f} s ({len(res.stdout.splitlines())} pool(s)) ; "
            f"compte nobody refusé : {other.returncode != 0}",
        )

    def app_argv(self, service: str) -> list[str]:
        argv = list(self.compose[service])
        argv[0] = str(VENV_BIN / "samaconso")
        return argv

    # ---- server 1: PostgreSQL, PgBouncer, S3, backups ----------------------------------------
    def start_data_server(self) -> None:
        ns = self.ns["data"]
        pg = self.tmp / "data" / "pg"
        (pg / "run").mkdir(parents=True)
        pgsec = self.tmp / "data" / "pgsecrets"
        pgsec.mkdir(parents=True)
        for name in ("db_password", "pgbouncer_auth_password"):
            shutil.copy(self.secrets / name, pgsec / name)
        run(["chown", "-R", "postgres:postgres", str(self.tmp / "data")])
        os.chmod(pgsec, 0o700)
        run(
            [
                "setpriv",
                "--reuid=postgres",
                "--regid=postgres",
                "--init-groups",
                "--",
                str(PG_BIN / "initdb"),
                "-D",
                str(pg / "data"),
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--auth-local=peer",
                "--auth-host=scram-sha-256",
            ]
        )
        overrides = pg / "rehearsal-overrides.conf"
        overrides.write_text(
            "# Répétition : mêmes réglages que la production, sauf les tailles mémoire et les chemins.\n"
            "shared_buffers = '128MB'\neffective_cache_size = '1GB'\nmaintenance_work_mem = '64MB'\n"
            "autovacuum_work_mem = '64MB'\nwal_buffers = '4MB'\nmax_wal_size = '1GB'\nhuge_pages = 'off'\n"
            f"unix_socket_directories = '{pg / 'run'}'\n"
            f"hba_file = '{DEPLOY / 'server1-data' / 'postgresql' / 'pg_hba.conf'}'\n"
        )
        with (pg / "data" / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\ninclude '{DEPLOY / 'server1-data' / 'postgresql' / 'samaconso.conf'}'\n"
                f"include '{overrides}'\n"
            )
        run(["chown", "-R", "postgres:postgres", str(pg)])
        self.procs["postgresql"] = proc = Proc(
            "postgresql",
            ns,
            [str(PG_BIN / "postgres"), "-D", str(pg / "data")],
            self.tmp / "logs" / "postgresql.log",
            user="postgres",
        ).start()
        wait_until("PostgreSQL :5432", lambda: ns_tcp_open(ns, "127.0.0.1", 5432), 60, proc)
        wait_until(
            "PostgreSQL accepte les connexions",
            lambda: (
                run(
                    ns_argv(ns, [str(PG_BIN / "pg_isready"), "-h", str(pg / "run"), "-p", "5432"]),
                    check=False,
                ).returncode
                == 0
            ),
            30,
            proc,
        )
        tz = self.psql("SHOW log_timezone") + "/" + self.psql("SHOW timezone")
        self.report.ok(
            "serveur 1 : PostgreSQL 15",
            f"samaconso.conf + pg_hba.conf du dépôt ; log_timezone/timezone = {tz}",
        )

        env = {
            **base_env(),
            "PGHOST": str(pg / "run"),
            "SAMACONSO_DB_PASSWORD_FILE": str(pgsec / "db_password"),
            "PGBOUNCER_AUTH_PASSWORD_FILE": str(pgsec / "pgbouncer_auth_password"),
        }
        run(
            ns_argv(
                ns,
                ["bash", str(DEPLOY / "server1-data" / "postgresql" / "create-database.sh")],
                user="postgres",
            ),
            env=env,
        )
        bouncer = self.tmp / "data" / "pgbouncer"
        bouncer.mkdir()
        run(["chown", "postgres:postgres", str(bouncer)])
        run(
            ns_argv(
                ns,
                [
                    "bash",
                    str(DEPLOY / "server1-data" / "pgbouncer" / "generate-userlist.sh"),
                    str(bouncer / "userlist.txt"),
                ],
                user="postgres",
            ),
            env=env,
        )
        users = (bouncer / "userlist.txt").read_text()
        plain = any(self.read_secret(n) in users for n in ("db_password", "pgbouncer_auth_password"))
        if plain:
            raise StepFailed("la userlist contient un mot de passe en clair")
        # Le fichier du dépôt, dont seuls les chemins (fichiers, socket) changent pour la répétition.
        ini = (DEPLOY / "server1-data" / "pgbouncer" / "pgbouncer.ini").read_text()
        shutil.copy(
            DEPLOY / "server1-data" / "pgbouncer" / "pgbouncer_hba.conf", bouncer / "pgbouncer_hba.conf"
        )
        paths = {
            "auth_file": bouncer / "userlist.txt",
            "auth_hba_file": bouncer / "pgbouncer_hba.conf",
            "unix_socket_dir": bouncer,
            "logfile": bouncer / "pgbouncer.log",
            "pidfile": bouncer / "pgbouncer.pid",
        }
        for key, value in paths.items():
            ini, n = re.subn(rf"^{key} = .*$", f"{key} = {value}", ini, flags=re.M)
            if n != 1:
                raise StepFailed(f"pgbouncer.ini: clé {key} introuvable")
        (bouncer / "pgbouncer.ini").write_text(ini)
        run(["chown", "-R", "postgres:postgres", str(bouncer)])
        self.procs["pgbouncer"] = proc = Proc(
            "pgbouncer",
            ns,
            ["/usr/sbin/pgbouncer", str(bouncer / "pgbouncer.ini")],
            self.tmp / "logs" / "pgbouncer.log",
            user="postgres",
            ulimit_nofile=20000,
        ).start()
        wait_until("PgBouncer :6432", lambda: ns_tcp_open(ns, self.addr["data"], 6432), 30, proc)
        self.pgbouncer_admin_console(ns, bouncer)
        self.report.ok(
            "serveur 1 : base, rôles, PgBouncer",
            "create-database.sh ; userlist SCRAM générée depuis pg_shadow (2 rôles, aucun mot de passe en clair) ; "
            "pool transaction, max_client_conn 10000, default_pool_size 100",
        )

        # S3 : SeaweedFS « weed mini » tient le rôle de MinIO (même API S3, port 9000).
        s3dir = self.tmp / "data" / "s3"
        s3dir.mkdir()
        access = parse_env_file(REPO / ".env.production.example")["SAMACONSO_S3_ACCESS_KEY"]
        # Trois comptes, comme sur MinIO : l'administrateur (création des compartiments seulement),
        # l'application (samaconso-policy.json) et la sauvegarde (samaconso-backup-policy.json, lecture).
        admin_key, admin_secret = "samaconso-admin", secrets.token_urlsafe(24)
        backup_key, backup_secret = "samaconso-backup", secrets.token_urlsafe(24)
        self.s3_identities = s3_identities(
            (admin_key, admin_secret),
            (access, self.read_secret("samaconso_s3_secret_key")),
            (backup_key, backup_secret),
        )
        (s3dir / "s3.json").write_text(json.dumps(self.s3_identities))
        os.chmod(s3dir / "s3.json", 0o600)
        s3_admin = self.tmp / "data" / "s3-admin.env"
        s3_admin.write_text(f"S3_ACCESS_KEY={admin_key}\nS3_SECRET_KEY={admin_secret}\n")
        os.chmod(s3_admin, 0o600)  # create-buckets.sh, lancé par root
        self.s3_creds = self.tmp / "data" / "s3-backup.env"  # samaconso-backup.sh : lecture seule
        self.s3_creds.write_text(f"S3_ACCESS_KEY={backup_key}\nS3_SECRET_KEY={backup_secret}\n")
        os.chmod(self.s3_creds, 0o644)  # lu par postgres (sauvegarde) ; répertoire temporaire privé
        self.procs["s3"] = proc = Proc(
            "s3",
            ns,
            weed_argv(s3dir, self.addr["data"], s3dir / "s3.json"),
            self.tmp / "logs" / "s3.log",
            cwd=s3dir,
            env=base_env(),
        ).start()
        wait_until("S3 :9000", lambda: ns_tcp_open(ns, self.addr["data"], 9000), 90, proc)
        s3env = {
            **base_env(),
            "S3_CREDENTIALS_FILE": str(s3_admin),
            "S3_ENDPOINT": "http://127.0.0.1:9000",
            "S3_PROVIDER": "Other",
        }
        deadline = time.monotonic() + 60
        while True:
            res = run(
                ns_argv(ns, ["bash", str(DEPLOY / "server1-data" / "minio" / "create-buckets.sh")]),
                env=s3env,
                check=False,
            )
            if res.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise StepFailed(f"create-buckets.sh: {res.stderr[-500:]}")
            time.sleep(2)
        self.report.ok(
            "serveur 1 : stockage objet",
            "SeaweedFS weed mini à la place de MinIO ; create-buckets.sh (compte administrateur) : "
            + " ".join(line.split()[-1] for line in res.stdout.splitlines() if "compartiment prêt" in line)
            + " ; comptes application (lecture/écriture des 2 compartiments) et sauvegarde (lecture seule) "
            "traduits des politiques MinIO du dépôt",
        )

    def psql(self, sql: str, db: str = "postgres") -> str:
        res = run(
            ns_argv(
                self.ns["data"],
                [
                    "psql",
                    "-X",
                    "-A",
                    "-t",
                    "-h",
                    str(self.tmp / "data" / "pg" / "run"),
                    "-U",
                    "postgres",
                    "-d",
                    db,
                    "-c",
                    sql,
                ],
                user="postgres",
            )
        )
        return res.stdout.strip()

    def read_secret(self, name: str) -> str:
        return (self.secrets / name).read_text().strip()

    # ---- server 2: RabbitMQ, migrations, api_1, api_2 -----------------------------------------
    def start_api_server(self) -> None:
        ns = self.ns["api"]
        rmq = self.tmp / "api" / "rabbitmq"
        rmq.mkdir(parents=True)
        shutil.copy(self.secrets / "rabbitmq_definitions.json", rmq / "definitions.json")
        conf = (DEPLOY / "server2-api" / "rabbitmq" / "rabbitmq.conf").read_text()
        conf = conf.replace("/run/secrets/rabbitmq_definitions.json", str(rmq / "definitions.json"))
        (rmq / "rabbitmq.conf").write_text(conf)
        run(["chown", "-R", "rabbitmq:rabbitmq", str(rmq)])
        node = f"{TAG}@localhost"
        self.rabbit_env = {
            **base_env(),
            "RABBITMQ_NODENAME": node,
            "RABBITMQ_CONFIG_FILE": str(rmq / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(DEPLOY / "server2-api" / "rabbitmq" / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(rmq / "mnesia"),
            "RABBITMQ_LOG_BASE": str(rmq / "log"),
            "RABBITMQ_PID_FILE": str(rmq / "rabbit.pid"),
            "RABBITMQ_DIST_PORT": "25672",
        }
        self.procs["rabbitmq"] = proc = Proc(
            "rabbitmq", ns, ["rabbitmq-server"], self.tmp / "logs" / "rabbitmq.log", env=self.rabbit_env
        ).start()
        wait_until("RabbitMQ :5672", lambda: ns_tcp_open(ns, self.addr["api"], 5672), 120, proc)
        wait_until("RabbitMQ management :15672", lambda: ns_tcp_open(ns, self.addr["api"], 15672), 60, proc)
        vhosts = run(
            ns_argv(ns, ["rabbitmqctl", "-n", node, "-q", "list_vhosts"]), env=self.rabbit_env
        ).stdout
        users = run(ns_argv(ns, ["rabbitmqctl", "-n", node, "-q", "list_users"]), env=self.rabbit_env).stdout
        policies = run(
            ns_argv(ns, ["rabbitmqctl", "-n", node, "-q", "list_policies", "-p", "samaconso"]),
            env=self.rabbit_env,
        ).stdout
        if "samaconso" not in vhosts or "guest" in users or "celery-dead-letter" not in policies:
            raise StepFailed(f"définitions RabbitMQ non appliquées: vhosts={vhosts!r} users={users!r}")
        self.report.ok(
            "serveur 2 : RabbitMQ",
            "rabbitmq.conf + enabled_plugins du dépôt ; definitions.json : vhost samaconso, "
            "utilisateurs samaconso/exploitation (pas de guest), politique lettres mortes",
        )

        env = self.app_environment("api", "migrate")
        res = run(
            ns_argv(ns, self.app_argv("migrate"), user=APP_USER), env=env, timeout=300, cwd=self.tmp / "api"
        )
        tables = self.psql(
            "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog','information_schema')",
            db="samaconso",
        )
        self.report.ok(
            "serveur 2 : migrations (service one-shot « migrate »)",
            f"`{shlex.join(self.compose['migrate'])}` via PgBouncer : {res.stdout.strip()} ; {tables} tables",
        )
        self.seed_reference_data()
        for service, port in (("api_1", 8001), ("api_2", 8002)):
            self.start_api(service, port)
        self.report.ok(
            "serveur 2 : api_1 :8001, api_2 :8002",
            f"profil production, secrets lus dans SAMACONSO_SECRETS_DIR ; commande `{shlex.join(self.compose['api_1'])}`",
        )

    def seed_reference_data(self) -> None:
        """Données de référence (`samaconso seed` : agences, grilles tarifaires, types de demandes), source
        existante simulée (200 clients + scénario de démonstration) et premier administrateur."""
        env = self.app_environment("api", "seed")
        res = run(
            ns_argv(self.ns["api"], [str(VENV_BIN / "samaconso"), "seed"], user=APP_USER),
            env=env,
            timeout=600,
            check=False,
            cwd=self.tmp / "api",
        )
        if res.returncode == 0:
            lines = [ln for ln in res.stdout.splitlines() if ln.strip()]
            self.report.ok(
                "serveur 2 : données de référence (samaconso seed)",
                f"{len(lines)} lignes ; " + " | ".join(lines[:4]),
            )
        else:
            self.report.failed(
                "serveur 2 : données de référence (samaconso seed)", (res.stderr or res.stdout)[-400:]
            )
        legacy = (
            "import asyncio\n"
            "import samaconso.legacy.generator as g\n"
            "from samaconso.legacy.gateway import simulated_url\n"
            "from samaconso.settings import get_settings\n"
            "async def _exists(url):\n    return None\n"
            "g.ensure_database = _exists  # la base existe (c'est celle de l'application)\n"
            "r = asyncio.run(g.load(simulated_url(get_settings()), 200, chunk_size=200))\n"
            "print(r.customers, sum(r.rows.values()))\n"
        )
        res = run(
            ns_argv(self.ns["api"], [str(VENV_BIN / "python"), "-c", legacy], user=APP_USER),
            env=env,
            timeout=600,
            check=False,
            cwd=self.tmp / "api",
        )
        if res.returncode == 0:
            customers, rows = res.stdout.split()[-2:]
            self.report.ok(
                "source existante simulée (doublure SQL Server)", f"{customers} clients, {rows} lignes"
            )
        else:
            self.report.failed(
                "source existante simulée (doublure SQL Server)", (res.stderr or res.stdout)[-400:]
            )
        # Premier administrateur : créé une fois par l'exploitation avec `samaconso staff create`
        # (mot de passe lu sur l'entrée standard, jamais affiché ni dans la liste des processus).
        self.admin_login = "exploitation.admin"
        self.admin_password = "Rp-" + secrets.token_urlsafe(18)
        res = run(
            ns_argv(
                self.ns["api"],
                [
                    str(VENV_BIN / "samaconso"),
                    "staff",
                    "create",
                    "--login",
                    self.admin_login,
                    "--first-name",
                    "Exploitation",
                    "--last-name",
                    "Senelec",
                ],
                user=APP_USER,
            ),
            env=env,
            input_text=self.admin_password + "\n",
            timeout=120,
            check=False,
            cwd=self.tmp / "api",
        )
        self.report.check(
            "premier administrateur (samaconso staff create)",
            res.returncode == 0,
            self.admin_login if res.returncode == 0 else (res.stderr or res.stdout)[-400:],
        )

    def start_api(self, service: str, port: int) -> None:
        ns = self.ns["api"]
        env = self.app_environment("api", service)
        self.procs[service] = proc = Proc(
            service,
            ns,
            self.app_argv(service),
            self.tmp / "logs" / f"{service}.log",
            env=env,
            user=APP_USER,
            cwd=self.tmp / "api",
            ulimit_nofile=65536,
        ).start()
        wait_until(
            f"{service} /health",
            lambda: self.http_running(ns, f"http://{self.addr['api']}:{port}/health"),
            60,
            proc,
        )

    def http_running(self, ns: str, url: str) -> bool:
        res = subprocess.run(
            ns_argv(ns, ["curl", "-ksS", "--max-time", "2", url]), capture_output=True, text=True
        )
        return res.returncode == 0 and '"running"' in res.stdout

    # ---- server 3: Redis, workers, beat, Flower -----------------------------------------------
    def start_workers_server(self) -> None:
        ns = self.ns["workers"]
        rdir = self.tmp / "workers" / "redis"
        rdir.mkdir(parents=True)
        pw = self.read_secret("redis_password")
        auth = rdir / "redis-auth.conf"  # comme l'entrypoint du service redis de docker-compose.workers.yml
        auth.write_text(f'requirepass "{pw}"\nmasterauth "{pw}"\n')
        run(["chown", "-R", "redis:redis", str(rdir)])
        os.chmod(auth, 0o600)
        self.procs["redis"] = proc = Proc(
            "redis",
            ns,
            [
                "redis-server",
                str(DEPLOY / "server3-workers" / "redis" / "redis.conf"),
                "--include",
                str(auth),
            ],
            self.tmp / "logs" / "redis.log",
            cwd=rdir,
            user="redis",
            ulimit_nofile=20000,
        ).start()
        wait_until("Redis :6379", lambda: ns_tcp_open(ns, self.addr["workers"], 6379), 30, proc)
        info = run(
            ns_argv(ns, ["redis-cli", "-h", "127.0.0.1", "INFO", "persistence"]),
            env={**base_env(), "REDISCLI_AUTH": pw},
        ).stdout
        noauth = run(ns_argv(ns, ["redis-cli", "-h", "127.0.0.1", "PING"]), check=False).stdout.strip()
        if "aof_enabled:1" not in info or "NOAUTH" not in noauth:
            raise StepFailed(f"Redis: AOF ou mot de passe absent ({noauth})")
        self.report.ok(
            "serveur 3 : Redis",
            "redis.conf du dépôt (AOF + RDB, maxmemory 4gb noeviction), mot de passe exigé",
        )

        for service in ("worker_1", "worker_2", "beat", "flower"):
            self.start_worker(service)
        wait_until(
            "Flower :5555", lambda: ns_tcp_open(ns, self.addr["workers"], 5555), 60, self.procs["flower"]
        )
        self.report.ok(
            "serveur 3 : worker_1, worker_2, beat, Flower",
            f"`{shlex.join(self.compose['worker_1'])}` ; `{shlex.join(self.compose['worker_2'])}` ; un seul beat",
        )

    def start_worker(self, service: str) -> None:
        env = self.app_environment("workers", service)
        # Ce que docker-compose.workers.yml donne à ce service (point de métriques du worker).
        compose_env = yaml.safe_load((DEPLOY / "docker-compose.workers.yml").read_text())["services"][service]
        env.update(
            {
                k: str(v)
                for k, v in compose_env.get("environment", {}).items()
                if k.startswith("SAMACONSO_WORKER_")
            }
        )
        self.procs[service] = Proc(
            service,
            self.ns["workers"],
            self.app_argv(service),
            self.tmp / "logs" / f"{service}.log",
            env=env,
            user=APP_USER,
            cwd=self.tmp / "workers",
        ).start()

    def wait_workers_ready(
        self, names: tuple[str, ...] = ("worker_1", "worker_2"), timeout: float = 90
    ) -> None:
        def ready() -> bool:
            workers = self.flower_workers()
            return all(any(k.startswith(f"{n}@") and v for k, v in workers.items()) for n in names)

        wait_until("workers en ligne (Flower)", ready, timeout)

    def flower_workers(self) -> dict[str, bool]:
        pw = self.read_secret("samaconso_flower_password")
        user = parse_env_file(REPO / ".env.production.example")["SAMACONSO_FLOWER_USER"]
        res = subprocess.run(
            ns_argv(
                self.ns["admin"],
                [
                    "curl",
                    "-sS",
                    "--max-time",
                    "10",
                    "-u",
                    f"{user}:{pw}",
                    f"http://{self.addr['workers']}:5555/api/workers?refresh=1&status=1",
                ],
            ),
            capture_output=True,
            text=True,
        )
        try:
            data = json.loads(res.stdout)
        except ValueError:
            return {}
        return {k: bool(v) for k, v in data.items()} if isinstance(data, dict) else {}

    # ---- load balancer -----------------------------------------------------------------------
    def start_load_balancer(self) -> None:
        ns = self.ns["lb"]
        lb = self.tmp / "lb"
        lb.mkdir()
        run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=samaconso.rehearsal",
                "-addext",
                f"subjectAltName=DNS:samaconso.rehearsal,DNS:{self.files_host},IP:{self.addr['vip']}",
                "-keyout",
                str(lb / "key.pem"),
                "-out",
                str(lb / "cert.pem"),
                "-days",
                "1",
            ]
        )
        (lb / "samaconso.pem").write_text((lb / "cert.pem").read_text() + (lb / "key.pem").read_text())
        self.haproxy_env = {
            **base_env(),
            "SAMACONSO_VIP": self.addr["vip"],
            "SAMACONSO_API_HOST": self.addr["api"],
            "SAMACONSO_DATA_HOST": self.addr["data"],
            "HAPROXY_CERT": str(lb / "samaconso.pem"),
            "HAPROXY_RUNDIR": str(lb),
            "SAMACONSO_PUBLIC_DOCS": "true",  # the scenario lists the routes from /openapi.json
        }
        cfg = DEPLOY / "loadbalancer" / "haproxy.cfg"
        run(ns_argv(ns, ["haproxy", "-c", "-q", "-f", str(cfg)]), env=self.haproxy_env)
        # -n 8000 : maxconn réduit (20 000 en production) car cette machine limite les descripteurs à 20 000.
        self.procs["haproxy"] = proc = Proc(
            "haproxy",
            ns,
            ["haproxy", "-db", "-n", "8000", "-f", str(cfg)],
            self.tmp / "logs" / "haproxy.log",
            env=self.haproxy_env,
        ).start()
        wait_until("HAProxy :443", lambda: ns_tcp_open(ns, self.addr["vip"], 443), 20, proc)
        wait_until(
            "HAProxy voit api_1 et api_2 UP",
            lambda: self.lb_states() == {"api_1": "UP", "api_2": "UP"},
            30,
            proc,
        )
        wait_until(
            "HAProxy voit le stockage objet UP",
            lambda: self.lb_server_state("samaconso_files", "minio") == "UP",
            30,
            proc,
        )
        self.report.ok(
            "répartiteur (HAProxy, doublure du F5)",
            "haproxy.cfg du dépôt : leastconn, GET /health attend « running », api_1 et api_2 UP ; "
            f"{self.files_host} → S3 {self.addr['data']}:9000 (GET/HEAD signés, /documents/ /avatars/)",
        )

    def lb_command(self, command: str) -> str:
        """Une commande de l'API d'exécution de HAProxy (son socket d'administration), sa réponse."""
        sock = self.tmp / "lb" / "admin.sock"
        res = subprocess.run(
            ns_argv(self.ns["lb"], ["socat", "-", f"UNIX-CONNECT:{sock}"]),
            input=command + "\n",
            capture_output=True,
            text=True,
            timeout=10,
        )
        return res.stdout.strip()

    def lb_stat(self) -> list[list[str]]:
        """``show stat`` : une ligne CSV par frontal, serveur et moteur (pxname, svname, …, status au 18e champ)."""
        return [line.split(",") for line in self.lb_command("show stat").splitlines()]

    def lb_states(self) -> dict[str, str]:
        return {
            parts[1]: parts[17].split()[0]
            for parts in self.lb_stat()
            if len(parts) > 17 and parts[0] == "samaconso_api" and parts[1].startswith("api_")
        }

    def lb_server_state(self, backend: str, server: str) -> str:
        for parts in self.lb_stat():
            if len(parts) > 17 and parts[0] == backend and parts[1] == server:
                return parts[17].split()[0] if parts[17] else ""
        return ""

    def lb_sessions(self) -> dict[str, int]:
        """Sessions en cours par instance d'API, vues par HAProxy."""
        return {
            parts[1]: int(parts[4] or 0)
            for parts in self.lb_stat()
            if len(parts) > 4 and parts[0] == "samaconso_api" and parts[1].startswith("api_")
        }

    # ---- checks ----------------------------------------------------------------------------
    def check_firewall(self) -> None:
        a = self.addr
        expectations = [
            ("client", a["vip"], 443, True, "client → VIP :443"),
            ("client", a["api"], 8001, False, "client → api_1 :8001 direct"),
            ("client", a["data"], 6432, False, "client → PgBouncer"),
            ("lb", a["api"], 8001, True, "répartiteur → api_1"),
            ("lb", a["api"], 8002, True, "répartiteur → api_2"),
            ("lb", a["api"], 15672, False, "répartiteur → console RabbitMQ"),
            ("admin", a["api"], 15672, True, "administration → console RabbitMQ"),
            ("admin", a["workers"], 5555, True, "administration → Flower"),
            ("client", a["workers"], 5555, False, "client → Flower"),
            ("api", a["data"], 6432, True, "serveur 2 → PgBouncer"),
            ("api", a["data"], 9000, True, "serveur 2 → S3"),
            ("lb", a["data"], 9000, True, "répartiteur → S3 (fichiers publics)"),
            ("client", a["data"], 9000, False, "client → S3 direct"),
            ("api", a["workers"], 6379, True, "serveur 2 → Redis"),
            ("workers", a["api"], 5672, True, "serveur 3 → RabbitMQ"),
            ("workers", a["data"], 6432, True, "serveur 3 → PgBouncer"),
            ("lb", a["workers"], 6379, False, "répartiteur → Redis"),
            ("lb", a["data"], 5432, False, "répartiteur → PostgreSQL"),
            ("admin", a["data"], 5432, False, "administration → PostgreSQL (pas dans la liste)"),
        ]
        wrong = [
            f"{label} ({'ouvert' if not exp else 'fermé'})"
            for ns, host, port, exp, label in expectations
            if ns_tcp_open(self.ns[ns], host, port) != exp
        ]
        self.report.check(
            "pare-feu : ports entre serveurs",
            not wrong,
            f"{len(expectations) - len(wrong)}/{len(expectations)} attendus"
            + (f" ; écarts : {wrong}" if wrong else ""),
        )

    def platform_health(self) -> None:
        env = {
            **base_env(),
            "SRV_DATA": self.addr["data"],
            "SRV_API": self.addr["api"],
            "SRV_WORKERS": self.addr["workers"],
            "LB_URL": f"https://{self.addr['vip']}",
            "SECRETS_DIR": str(self.secrets),
            "FLOWER_USER": parse_env_file(REPO / ".env.production.example")["SAMACONSO_FLOWER_USER"],
        }
        res = run(
            ns_argv(self.ns["admin"], ["bash", str(DEPLOY / "scripts" / "healthcheck.sh")]),
            env=env,
            check=False,
            timeout=120,
        )
        print(res.stdout.rstrip())
        self.report.check(
            "healthcheck.sh (depuis le réseau d'administration)",
            res.returncode == 0,
            res.stdout.strip().splitlines()[-1] if res.stdout.strip() else res.stderr[-300:],
        )

    def start_monitoring(self) -> None:
        """Prometheus (réseau d'administration) avec prometheus.yml et les règles du dépôt."""
        if shutil.which("prometheus") is None:
            self.report.skipped(
                "supervision : Prometheus", "binaire prometheus absent (apt-get install prometheus)"
            )
            return
        mon = self.tmp / "admin" / "prometheus"
        (mon / "rules").mkdir(parents=True)
        shutil.copy(DEPLOY / "monitoring" / "rules" / "samaconso-alerts.yml", mon / "rules")
        token = mon / "samaconso_metrics_token"
        shutil.copy(self.secrets / "samaconso_metrics_token", token)
        flower_password = mon / "samaconso_flower_password"
        shutil.copy(self.secrets / "samaconso_flower_password", flower_password)
        cfg = (DEPLOY / "monitoring" / "prometheus.yml").read_text()
        (mon / "prometheus.yml").write_text(
            cfg.replace("/etc/prometheus/secrets/samaconso_metrics_token", str(token)).replace(
                "/etc/prometheus/secrets/samaconso_flower_password", str(flower_password)
            )
        )
        self.procs["prometheus"] = proc = Proc(
            "prometheus",
            self.ns["admin"],
            [
                "prometheus",
                f"--config.file={mon / 'prometheus.yml'}",
                f"--storage.tsdb.path={mon / 'data'}",
                "--web.listen-address=127.0.0.1:9090",
            ],
            self.tmp / "logs" / "prometheus.log",
        ).start()

        def query(expr: str) -> list[dict[str, Any]]:
            res = subprocess.run(
                ns_argv(
                    self.ns["admin"],
                    [
                        "curl",
                        "-sS",
                        "--max-time",
                        "5",
                        "--data-urlencode",
                        f"query={expr}",
                        "http://127.0.0.1:9090/api/v1/query",
                    ],
                ),
                capture_output=True,
                text=True,
            )
            try:
                return list(json.loads(res.stdout)["data"]["result"])
            except (ValueError, KeyError):
                return []

        def scraped() -> bool:
            return len(query('up{job=~"samaconso_api|samaconso_worker|flower|rabbitmq|haproxy"} == 1')) == 7

        try:
            wait_until("Prometheus : API, workers, Flower, RabbitMQ et HAProxy scrutés", scraped, 60, proc)
        except StepFailed as exc:
            up = {
                f"{r['metric'].get('job')}/{r['metric'].get('instance')}": r["value"][1] for r in query("up")
            }
            self.report.failed("supervision : Prometheus scrute la plate-forme", f"{exc} ; up = {up}")
            return
        res = subprocess.run(
            ns_argv(
                self.ns["admin"], ["curl", "-sS", "--max-time", "5", "http://127.0.0.1:9090/api/v1/rules"]
            ),
            capture_output=True,
            text=True,
        )
        try:
            loaded = sum(len(g["rules"]) for g in json.loads(res.stdout)["data"]["groups"])
        except (ValueError, KeyError):
            loaded = 0
        dead = query('rabbitmq_queue_messages{queue="samaconso.dead_letter"}')
        reqs = query("sum(samaconso_http_requests_total)")
        breakers = query('samaconso_circuit_open{job="samaconso_worker"}')
        online = query("flower_worker_online == 1")
        broadcast = query("samaconso_notification_oldest_unfinished_broadcast_seconds")
        self.report.check(
            "supervision : Prometheus scrute la plate-forme",
            bool(dead)
            and bool(reqs)
            and bool(breakers)
            and len(online) >= 2
            and bool(broadcast)
            and loaded >= 19,
            "prometheus.yml du dépôt : api_1/api_2 et worker_1/worker_2 (jeton Bearer), Flower, RabbitMQ (file "
            f"des lettres mortes visible), HAProxy à 1 ; {reqs[0]['value'][1] if reqs else '?'} requêtes comptées ; "
            f"{len(breakers)} disjoncteurs lus sur les workers ; {len(online)} workers en ligne vus par Flower ; "
            f"jauge de diffusion bloquée : {'oui' if broadcast else 'non'} ; {loaded} règles d'alerte chargées "
            "(exportateurs node/postgres/redis non lancés ici)",
        )

    # ---- cleanup ---------------------------------------------------------------------------
    def print_overrides(self, kind: str) -> None:
        """Ce qui s'écarte de la production dans cette répétition (imprimé avant le scénario)."""
        print(f"Écarts avec la production ({kind}) :")
        for key, value in self.overrides.items():
            print(f"  {key} = {value}")

    def cleanup(self) -> None:
        say("nettoyage : processus, espaces de noms, répertoire temporaire")
        if self.host_netns_fd is not None:
            with contextlib.suppress(OSError):
                setns(f"/proc/self/fd/{self.host_netns_fd}")
        for name in reversed(list(self.procs)):
            with contextlib.suppress(Exception):
                self.procs[name].stop(timeout=15)
        for ns in self.ns.values():
            # Ce qui tournerait encore dans nos espaces (epmd de RabbitMQ, enfants orphelins).
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
        time.sleep(0.5)
        for ns in self.ns.values():
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        netns_etc = Path("/etc/netns")
        shutil.rmtree(netns_etc / self.ns["client"], ignore_errors=True)
        if self.netns_etc_created:
            with contextlib.suppress(OSError):
                netns_etc.rmdir()  # seulement si vide : d'autres espaces peuvent y avoir leurs fichiers
        left = [
            ns
            for ns in self.ns.values()
            if ns in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        ]
        if os.environ.get("REHEARSAL_KEEP_TMP"):
            say(f"répertoire conservé : {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        say("nettoyage terminé" + (f" (espaces restants : {left})" if left else ""))


def preflight() -> list[str]:
    missing = []
    if os.geteuid() != 0:
        missing.append("root (ip netns, nftables)")
    for exe in (
        "ip",
        "nft",
        "haproxy",
        "pgbouncer",
        "redis-server",
        "rabbitmq-server",
        "rclone",
        "socat",
        "curl",
        "openssl",
        "setpriv",
        "prlimit",
        "pg_dump",
        "pg_restore",
    ):
        if shutil.which(exe) is None and not Path(f"/usr/sbin/{exe}").exists():
            missing.append(exe)
    if not (PG_BIN / "postgres").exists():
        missing.append(str(PG_BIN / "postgres"))
    if not (VENV_BIN / "samaconso").exists():
        missing.append(".venv (make install)")
    return missing


def main() -> int:
    # --growth-only (make rehearsal-growth) : la plate-forme, puis la seule montée en charge.
    growth_only = "--growth-only" in sys.argv[1:]
    missing = preflight()
    if missing:
        print("répétition impossible, manquent : " + ", ".join(missing), file=sys.stderr)
        print(
            "installer : apt-get install haproxy pgbouncer redis-server rabbitmq-server rclone socat postgresql-15",
            file=sys.stderr,
        )
        return 2
    r = Rehearsal()

    def steps() -> None:
        say(f"répertoire de travail {r.tmp} ; espaces de noms {TAG}-*")
        r.build_network()
        r.host_netns_fd = os.open("/proc/self/ns/net", os.O_RDONLY)
        r.make_secrets()
        r.apply_firewalls()
        r.start_data_server()
        r.start_api_server()
        r.start_workers_server()
        r.start_load_balancer()
        r.wait_workers_ready()
        r.check_firewall()
        r.platform_health()
        r.start_monitoring()
        r.print_overrides("répétition")
        # Le client (ce processus) passe dans son espace de noms : il n'atteint que la VIP.
        setns(f"/var/run/netns/{r.ns['client']}")
        if not growth_only:
            run_scenario(r)
        run_growth(r)

    return run_drill(r, steps)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
