#!/usr/bin/env python3
"""Répétition en conteneurs (``make rehearsal-containers``) : les serveurs 2 et 3 tournent avec les
fichiers compose du dépôt, l'image du Dockerfile et de vrais conteneurs.

Même réseau, même serveur 1 (PostgreSQL, PgBouncer, S3 : services systemd en production, processus
ici), même répartiteur et même scénario que ``make rehearsal`` (deploy/rehearsal/rehearsal.py et
scenario.py) ; ce qui change :

- serveur 2 : ``docker-compose -f docker-compose.production.yml up -d`` (rabbitmq, migrate une fois,
  api_1, api_2) ; serveur 3 : ``docker-compose -f docker-compose.workers.yml up -d`` (redis, worker_1,
  worker_2, beat, flower). Chaque « serveur » a son moteur de conteneurs : ``podman system service``
  lancé dans l'espace de noms réseau du serveur, si bien que ``network_mode: host`` y est le réseau du
  serveur, derrière son pare-feu nftables, comme en production ;
- les secrets sont installés par deploy/scripts/install-secrets.sh (droits de production) et montés
  par compose ; l'application tourne en uid 10001, Redis et RabbitMQ en uid 999 ;
- les arrêts/redémarrages du scénario (redémarrage progressif, worker tué pendant une diffusion) sont
  des ``docker-compose stop/up`` et ``podman kill`` des conteneurs.

Écarts avec la production, tous affichés : podman (moteur) + docker-compose 1.29 (Debian) au lieu de
Docker Engine + Compose v2 ; images de base faites de paquets Debian (deploy/containers/build-images.sh)
au lieu des images officielles ; les contrôles de santé des conteneurs sont déclenchés par cette
répétition (podman les confie à systemd, absent ici) ; limite de descripteurs 20 000 (limite dure de
cette machine) ; pas de limites cgroup (--compatibility non utilisé : le bac à sable refuse les cgroups).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

# Lancé comme script : deploy/rehearsal/ est sys.path[0] (rehearsal.py, scenario.py).
import rehearsal as base  # deploy/rehearsal/rehearsal.py
from netns import run_drill
from rehearsal import DEPLOY, REPO, TAG, Rehearsal, StepFailed, parse_env_file, run, say

CONTAINERS_CONF = DEPLOY / "containers" / "containers.conf"
IMAGE_TAG = (
    os.environ.get("SAMACONSO_REHEARSAL_IMAGE_TAG")
    or subprocess.run(
        ["bash", str(Path(__file__).resolve().parents[1] / "containers" / "image-tag.sh")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
)
IMAGES = {
    "SAMACONSO_IMAGE": os.environ.get("SAMACONSO_IMAGE", "localhost/samaconso/api"),
    "REDIS_IMAGE": os.environ.get("REDIS_IMAGE", "localhost/samaconso-redis:bookworm"),
    "RABBITMQ_IMAGE": os.environ.get("RABBITMQ_IMAGE", "localhost/samaconso-rabbitmq:bookworm"),
}
COMPOSE_FILES = {"api": "docker-compose.production.yml", "workers": "docker-compose.workers.yml"}
PORTS = {"api_1": 8001, "api_2": 8002}


def podman_env() -> dict[str, str]:
    return {**base.base_env(), "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return run(["podman", *args], env=podman_env(), check=check, timeout=timeout)


class Container:
    """Un service compose vu comme un processus du scénario (stop, send, alive, tail)."""

    def __init__(self, r: ContainerRehearsal, server: str, service: str) -> None:
        self.r, self.server, self.service, self.name = r, server, service, service

    def cid(self) -> str:
        res = self.r.dc(self.server, "ps", "-q", self.service, check=False)
        return res.stdout.strip().splitlines()[0] if res.stdout.strip() else ""

    @property
    def alive(self) -> bool:
        cid = self.cid()
        if not cid:
            return False
        res = podman("inspect", "-f", "{{.State.Running}}", cid, check=False)
        return res.stdout.strip() == "true"

    def send(self, sig: int) -> None:
        cid = self.cid()
        if cid:
            podman("kill", "--signal", str(int(sig)), cid, check=False)

    def stop(self, timeout: float = 20.0, sig: int = signal.SIGTERM) -> None:
        if sig == signal.SIGKILL:
            self.send(sig)
            return
        self.r.dc(
            self.server, "stop", "-t", str(int(timeout)), self.service, check=False, timeout=timeout + 60
        )

    def tail(self, n: int = 15) -> str:
        res = self.r.dc(self.server, "logs", "--no-color", "--tail", str(n), self.service, check=False)
        return base.mask_secrets((res.stdout + res.stderr)[-3000:])


class ContainerRehearsal(Rehearsal):
    def __init__(self) -> None:
        super().__init__()
        self.hosts = self.tmp / "hosts"
        self.engines: dict[str, subprocess.Popen[bytes]] = {}
        self.projects = {server: f"{TAG}{server}" for server in COMPOSE_FILES}
        self.stop_ticker = threading.Event()
        self.ticker: threading.Thread | None = None
        self.due: dict[str, float] = {}

    # ---- moteurs de conteneurs, un par serveur ------------------------------------------------
    def in_server(self, server: str) -> list[str]:
        return ["nsenter", f"--net=/var/run/netns/{self.ns[server]}"]

    def socket(self, server: str) -> Path:
        return self.hosts / server / "engine.sock"

    def start_engines(self) -> None:
        for server in COMPOSE_FILES:
            (self.hosts / server).mkdir(parents=True, exist_ok=True)
            (self.tmp / "logs").mkdir(exist_ok=True)
            log = (self.tmp / "logs" / f"engine-{server}.log").open("ab")
            self.engines[server] = subprocess.Popen(
                [
                    "nsenter",
                    f"--net=/var/run/netns/{self.ns[server]}",
                    "podman",
                    "system",
                    "service",
                    "--time=0",
                    f"unix://{self.socket(server)}",
                ],
                env=podman_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        for server in COMPOSE_FILES:
            base.wait_until(f"moteur du serveur {server}", lambda s=server: self.socket(s).exists(), 30)
        self.ticker = threading.Thread(target=self.health_ticker, daemon=True)
        self.ticker.start()
        self.report.ok(
            "moteurs de conteneurs",
            "podman system service dans les espaces des serveurs 2 et 3 (network_mode: host = réseau du "
            "serveur) ; docker-compose 1.29 par DOCKER_HOST",
        )

    def health_ticker(self) -> None:
        """Lance les contrôles de santé des conteneurs à leur intervalle (le rôle du démon Docker ;
        podman le confie à des minuteries systemd, absentes de cette machine)."""
        while not self.stop_ticker.wait(2):
            try:
                self.health_tick()
            except Exception as exc:  # le fil ne doit pas mourir ; l'erreur est journalisée
                with (self.tmp / "logs" / "health-ticker.log").open("a") as out:
                    out.write(f"{type(exc).__name__}: {exc}\n")

    def health_tick(self) -> None:
        due = self.due
        if True:
            res = subprocess.run(
                ["podman", "ps", "--format", "{{.ID}} {{.Labels}}"],
                capture_output=True,
                text=True,
                env=podman_env(),
            )
            now = time.monotonic()
            for line in res.stdout.splitlines():
                cid = line.split(" ", 1)[0]
                servers = [sv for sv, p in self.projects.items() if f"com.docker.compose.project:{p}" in line]
                if not servers:
                    continue
                server = servers[0]
                if cid not in due:
                    insp = subprocess.run(
                        ["podman", "inspect", "-f", "{{json .Config.Healthcheck}}", cid],
                        capture_output=True,
                        text=True,
                        env=podman_env(),
                    )
                    try:
                        hc = json.loads(insp.stdout or "null")
                    except ValueError:
                        hc = None
                    if not hc or not hc.get("Test") or hc["Test"][0] == "NONE":
                        due[cid] = float("inf")
                        continue
                    # Pendant le démarrage, un contrôle toutes les 3 s ; ensuite à l'intervalle déclaré.
                    due[cid] = now + 3
                    interval = hc.get("Interval") or 30e9
                    due[cid + "/interval"] = max(
                        3.0, float(interval) / 1e9 if isinstance(interval, (int, float)) else 10.0
                    )
                if now >= due[cid]:
                    # Dans l'espace réseau du serveur : pour un conteneur en réseau hôte, « exec » reste
                    # dans l'espace de l'appelant (le démon Docker, lui, est dans celui de l'hôte).
                    out = subprocess.run(
                        [*self.in_server(server), "podman", "healthcheck", "run", cid],
                        capture_output=True,
                        text=True,
                        env=podman_env(),
                    )
                    healthy = out.returncode == 0
                    due[cid] = now + (due[cid + "/interval"] if healthy else 3)

    # ---- fichiers d'un serveur (/opt/samaconso en production) ------------------------------------
    def compose_env(self, server: str) -> dict[str, str]:
        return {
            **base.base_env(),
            **IMAGES,
            "SAMACONSO_TAG": IMAGE_TAG,
            "COMPOSE_PROJECT_NAME": self.projects[server],
            "DOCKER_HOST": f"unix://{self.socket(server)}",
            "CONTAINERS_CONF": str(CONTAINERS_CONF),
        }

    def dc(
        self, server: str, *args: str, check: bool = True, timeout: float = 300, input_text: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        argv = ["docker-compose", "-f", COMPOSE_FILES[server], "-f", "rehearsal.override.yml", *args]
        return run(
            argv,
            env=self.compose_env(server),
            check=check,
            timeout=timeout,
            cwd=self.hosts / server,
            input_text=input_text,
        )

    def prepare_host(self, server: str) -> None:
        d = self.hosts / server
        shutil.copy(DEPLOY / COMPOSE_FILES[server], d / COMPOSE_FILES[server])
        if server == "api":
            shutil.copytree(DEPLOY / "server2-api" / "rabbitmq", d / "rabbitmq")
        else:
            shutil.copytree(DEPLOY / "server3-workers" / "redis", d / "redis")
        for f in d.rglob("*"):
            os.chmod(f, 0o755 if f.is_dir() else 0o644)  # configurations (pas des secrets) : lisibles
        # .env.production : l'exemple du dépôt, avec les écarts de la répétition (voir rehearsal.py).
        env = self.app_environment(server, "samaconso")
        keep = parse_env_file(REPO / ".env.production.example")
        lines = []
        for key, value in env.items():
            if key in (
                "PATH",
                "LANG",
                "HOME",
                "TZ",
                "SAMACONSO_DATA_DIR",
                "SAMACONSO_SECRETS_DIR",
                "SAMACONSO_INSTANCE_NAME",
            ):
                continue
            if key.startswith("SAMACONSO_") or key in keep:
                lines.append(f"{key}={value}")
        (d / ".env.production").write_text("\n".join(lines) + "\n")
        os.chmod(d / ".env.production", 0o600)
        # Secrets : comme en production (install-secrets.sh) ; les fichiers « à remplir » par des tiers
        # reçoivent ici une valeur factice (ils sont montés par compose ; fonctions désactivées ici).
        src = self.tmp / "secrets-src"
        if not src.exists():
            shutil.copytree(self.secrets, src)
            for f in src.iterdir():
                if f.stat().st_size == 0:
                    f.write_text("rehearsal-not-used-" + f.name)
            direct = (src / "samaconso_database_url").read_text().replace(":6432/", ":5432/")
            (src / "samaconso_legacy_simulated_url").write_text(direct)
        run(["bash", str(DEPLOY / "scripts" / "install-secrets.sh"), str(src), str(d / "secrets"), server])
        # Ajouts au fichier compose (rehearsal.override.yml) : le secret de la source existante simulée
        # (doublure SQL Server) ; les limites de cette machine (descripteurs : limite dure 20 000 ; dès
        # qu'une limite est donnée, podman fixe aussi « nproc », au-delà de ce que ce bac à sable permet).
        doc = __import__("yaml").safe_load((DEPLOY / COMPOSE_FILES[server]).read_text())
        nofile = min(65536, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
        services: dict[str, Any] = {}
        for name, svc in doc["services"].items():
            extra: dict[str, Any] = {}
            if "samaconso_database_url" in (svc.get("secrets") or []):
                extra["secrets"] = ["samaconso_legacy_simulated_url"]
            if svc.get("ulimits"):
                extra["ulimits"] = {
                    "nofile": {"soft": nofile, "hard": nofile},
                    "nproc": {"soft": 4096, "hard": 4096},
                }
            if extra:
                services[name] = extra
        override: dict[str, Any] = {
            "version": "3.8",
            "services": services,
            "secrets": {
                "samaconso_legacy_simulated_url": {"file": "./secrets/samaconso_legacy_simulated_url"}
            },
        }
        self.overrides["ulimits (rehearsal.override.yml)"] = (
            f"nofile {nofile}, nproc 4096 (limites de cette machine)"
        )
        (d / "rehearsal.override.yml").write_text(json.dumps(override, indent=1))

    def secret_modes(self, server: str) -> str:
        out = []
        for f in sorted((self.hosts / server / "secrets").iterdir()):
            st = f.stat()
            out.append(f"{st.st_gid}:{oct(st.st_mode & 0o777)}")
        return " ".join(f"{k}×{v}" for k, v in sorted({m: out.count(m) for m in out}.items()))

    # ---- serveur 2 ----------------------------------------------------------------------------
    def start_api_server(self) -> None:
        self.prepare_host("api")
        self.report.ok(
            "serveur 2 : secrets (install-secrets.sh)",
            f"gid:mode {self.secret_modes('api')} ; répertoire 0700 root",
        )
        t = time.monotonic()
        res = self.dc("api", "up", "-d", timeout=900, check=False)
        if res.returncode != 0:
            raise StepFailed(
                "docker-compose up (serveur 2) : "
                + (res.stderr or res.stdout)[-1500:]
                + self.logs_tail("api")
            )
        self.procs.update({s: Container(self, "api", s) for s in ("rabbitmq", "api_1", "api_2")})
        for service, port in PORTS.items():
            base.wait_until(
                f"{service} /health",
                lambda p=port: self.http_running(self.ns["api"], f"http://{self.addr['api']}:{p}/health"),
                180,
            )
        self.wait_healthy("api", ("rabbitmq", "api_1", "api_2"), 120)
        migrate = self.dc("api", "ps", "-a", "migrate", check=False).stdout
        users = self.container_users("api", ("rabbitmq", "api_1", "api_2"))
        self.report.check(
            "serveur 2 : docker-compose up (rabbitmq, migrate, api_1, api_2)",
            "Exit 0" in migrate
            and users.get("api_1") == users.get("api_2") == "10001:10001"
            and users.get("rabbitmq") == "999:999",
            f"{time.monotonic() - t:.0f} s ; migrate : {' '.join(migrate.split()[-3:])} ; utilisateurs {users}",
        )
        self.check_rabbitmq()
        self.seed_reference_data()

    def logs_tail(self, server: str, n: int = 25) -> str:
        res = self.dc(server, "logs", "--no-color", "--tail", str(n), check=False)
        text = base.mask_secrets(res.stdout + res.stderr)
        ids = podman(
            "ps", "-aq", "--filter", f"label=com.docker.compose.project={self.projects[server]}", check=False
        ).stdout.split()
        for cid in ids:
            insp = podman(
                "inspect", "-f", "{{.Name}} {{.State.Status}} {{json .State.Health}}", cid, check=False
            )
            text += "\n" + base.mask_secrets(insp.stdout.strip()[-1500:])
        (self.tmp / "logs" / f"compose-{server}.log").write_text(text)
        return "\n" + text[-4000:]

    def wait_healthy(self, server: str, services: tuple[str, ...], timeout: float) -> None:
        def healthy() -> bool:
            for s in services:
                cid = Container(self, server, s).cid()
                st = (
                    podman("inspect", "-f", "{{.State.Health.Status}}", cid, check=False).stdout.strip()
                    if cid
                    else ""
                )
                if st != "healthy":
                    return False
            return True

        try:
            base.wait_until(f"{', '.join(services)} healthy", healthy, timeout)
        except StepFailed as exc:
            raise StepFailed(str(exc) + self.logs_tail(server)) from None

    def container_users(self, server: str, services: tuple[str, ...]) -> dict[str, str]:
        """uid:gid réels (vus de l'hôte, /proc) de tous les processus de chaque conteneur."""
        users = {}
        for s in services:
            cid = Container(self, server, s).cid()
            res = podman("top", cid, "hpid", check=False) if cid else None
            ids = set()
            for pid in res.stdout.split()[1:] if res else []:
                with contextlib.suppress(OSError, IndexError):
                    status = Path(f"/proc/{pid}/status").read_text()
                    uid = re.search(r"^Uid:\s+(\d+)", status, re.M)
                    gid = re.search(r"^Gid:\s+(\d+)", status, re.M)
                    if uid and gid:
                        ids.add(f"{uid.group(1)}:{gid.group(1)}")
            users[s] = ",".join(sorted(ids)) or "?"
        return users

    def check_rabbitmq(self) -> None:
        """Définitions, alarme mémoire et disque vus par l'API de gestion (depuis l'administration)."""
        admin = self.read_secret("rabbitmq_admin_password")

        def api(path: str) -> Any:
            res = run(
                base.ns_argv(
                    self.ns["admin"],
                    [
                        "curl",
                        "-fsS",
                        "--max-time",
                        "10",
                        "-K",
                        "-",
                        f"http://{self.addr['api']}:15672/api/{path}",
                    ],
                ),
                input_text=f'user = "exploitation:{admin}"\n',  # mot de passe sur stdin, pas dans argv
                check=False,
            )
            try:
                return json.loads(res.stdout)
            except ValueError:
                return None

        vhosts = [v["name"] for v in api("vhosts") or []]
        users = [u["name"] for u in api("users") or []]
        policies = [p["name"] for p in api("policies/samaconso") or []]
        nodes = api("nodes") or [{}]
        limit = int(nodes[0].get("mem_limit", 0)) // 2**20
        disk = int(nodes[0].get("disk_free_limit", 0)) / 10**9
        self.report.check(
            "serveur 2 : RabbitMQ (conteneur, uid 999)",
            "samaconso" in vhosts
            and "guest" not in users
            and "celery-dead-letter" in policies
            and limit == 1280
            and disk == 10,
            f"definitions.json : vhosts {vhosts}, utilisateurs {users}, politiques {policies} ; "
            f"alarme mémoire {limit} Mio (limite du conteneur 2 Go), disque libre minimal {disk:g} Go",
        )

    def seed_reference_data(self) -> None:
        """Comme rehearsal.py, mais dans un conteneur ponctuel du service migrate (image de production)."""
        res = self.dc(
            "api", "run", "--rm", "--no-deps", "-T", "migrate", "samaconso", "seed", check=False, timeout=600
        )
        self.report.check(
            "serveur 2 : données de référence (conteneur : samaconso seed)",
            res.returncode == 0,
            " | ".join([ln for ln in res.stdout.splitlines() if ln.strip()][:3])
            if res.returncode == 0
            else (res.stderr or res.stdout)[-400:],
        )
        legacy = (
            "import asyncio\n"
            "import samaconso.legacy.generator as g\n"
            "from samaconso.legacy.gateway import simulated_url\n"
            "from samaconso.settings import get_settings\n"
            "async def _exists(url):\n    return None\n"
            "g.ensure_database = _exists\n"
            "r = asyncio.run(g.load(simulated_url(get_settings()), 200, chunk_size=200))\n"
            "print(r.customers, sum(r.rows.values()))\n"
        )
        res = self.dc(
            "api",
            "run",
            "--rm",
            "--no-deps",
            "-T",
            "migrate",
            "python",
            "-c",
            legacy,
            check=False,
            timeout=600,
        )
        self.report.check(
            "source existante simulée (doublure SQL Server, conteneur)",
            res.returncode == 0,
            " ".join(res.stdout.split()[-2:]) if res.returncode == 0 else (res.stderr or res.stdout)[-400:],
        )
        self.admin_login = "exploitation.admin"
        self.admin_password = "Rp-" + base.secrets.token_urlsafe(18)
        res = self.dc(
            "api",
            "run",
            "--rm",
            "--no-deps",
            "-T",
            "migrate",
            "samaconso",
            "staff",
            "create",
            "--login",
            self.admin_login,
            "--first-name",
            "Exploitation",
            "--last-name",
            "Senelec",
            check=False,
            timeout=120,
            input_text=self.admin_password + "\n",
        )
        self.report.check(
            "premier administrateur (conteneur : samaconso staff create, mot de passe sur stdin)",
            res.returncode == 0,
            self.admin_login if res.returncode == 0 else (res.stderr or res.stdout)[-400:],
        )

    def start_api(self, service: str, port: int) -> None:
        """Redémarrage d'une instance (scénario, deploy.sh) : recréée par compose, attendue saine."""
        self.dc("api", "up", "-d", "--no-deps", "--force-recreate", service, timeout=300)
        base.wait_until(
            f"{service} /health",
            lambda: self.http_running(self.ns["api"], f"http://{self.addr['api']}:{port}/health"),
            120,
        )

    # ---- serveur 3 ----------------------------------------------------------------------------
    def start_workers_server(self) -> None:
        self.prepare_host("workers")
        self.report.ok("serveur 3 : secrets (install-secrets.sh)", f"gid:mode {self.secret_modes('workers')}")
        t = time.monotonic()
        res = self.dc("workers", "up", "-d", timeout=900, check=False)
        if res.returncode != 0:
            raise StepFailed(
                "docker-compose up (serveur 3) : "
                + (res.stderr or res.stdout)[-1500:]
                + self.logs_tail("workers")
            )
        services = ("redis", "worker_1", "worker_2", "beat", "flower")
        self.procs.update({s: Container(self, "workers", s) for s in services})
        base.wait_until(
            "Flower :5555", lambda: base.ns_tcp_open(self.ns["workers"], self.addr["workers"], 5555), 120
        )
        # L'outbox (SMS/push en fichiers) est dans le volume de données du serveur 3 : le scénario la lit là.
        for server in ("api", "workers"):
            vol = podman(
                "volume", "inspect", "-f", "{{.Mountpoint}}", f"{self.projects[server]}_samaconso-data"
            ).stdout.strip()
            data = self.tmp / server / "data"
            if data.is_dir() and not data.is_symlink():
                shutil.rmtree(data)
            data.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                data.symlink_to(vol)
        users = self.container_users("workers", services)
        redis_cid = Container(self, "workers", "redis").cid()
        noauth = run(
            [*self.in_server("workers"), "podman", "exec", redis_cid, "redis-cli", "PING"],
            env=podman_env(),
            check=False,
        ).stdout.strip()
        self.report.check(
            "serveur 3 : docker-compose up (redis, worker_1, worker_2, beat, flower)",
            all(users.get(s) == "10001:10001" for s in services[1:])
            and users.get("redis") == "999:999"
            and "NOAUTH" in noauth,
            f"{time.monotonic() - t:.0f} s ; utilisateurs {users} ; Redis sans mot de passe : {noauth[:40]}",
        )

    def start_worker(self, service: str) -> None:
        self.dc("workers", "up", "-d", "--no-deps", service, timeout=300)

    # ---- contrôles propres aux conteneurs --------------------------------------------------------
    def check_argv(self) -> None:
        """Aucun mot de passe dans la ligne de commande d'aucun processus d'aucun conteneur."""
        values = {
            f.name: f.read_text().strip()
            for f in self.secrets.iterdir()
            if f.is_file() and f.stat().st_size >= 8 and not f.name.endswith((".json", ".env"))
        }
        leaks, seen = [], 0
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            with contextlib.suppress(OSError):
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                seen += 1
                for name, value in values.items():
                    if value and value in cmd:
                        leaks.append(f"pid {pid}: {name}")
        self.report.check(
            "aucun secret dans argv (tous les processus de la machine)",
            not leaks,
            f"{seen} processus examinés, {len(values)} secrets cherchés"
            + (f" ; fuites : {leaks[:5]}" if leaks else ""),
        )

    def check_deploy_script(self) -> None:
        """deploy.sh (le vrai script) fait un redémarrage progressif des conteneurs sur la même image."""
        env = {
            **base.base_env(),
            "API_HOST": "api",
            "WORKERS_HOST": "workers",
            "API_ADDR": self.addr["api"],
            "REMOTE_EXEC": "rehearsal",
            "REHEARSAL_HOSTS": str(self.hosts),
            "COMPOSE": "docker-compose",
            "CONTAINER_CLI": "podman",
            "COMPOSE_EXTRA_FILES": "-f rehearsal.override.yml",
            "SAMACONSO_IMAGE": IMAGES["SAMACONSO_IMAGE"],
            "DEPLOY_PULL": "0",
            "LB_SETTLE_SECONDS": "3",
            "DRAIN_SECONDS": "1",
            "POST_DEPLOY_CHECK": "true",
            **{
                k: v
                for k, v in self.compose_env("api").items()
                if k in ("REDIS_IMAGE", "RABBITMQ_IMAGE", "CONTAINERS_CONF")
            },
        }
        env["REHEARSAL_PROJECTS"] = f"api={self.projects['api']} workers={self.projects['workers']}"
        t = time.monotonic()
        res = run(
            base.ns_argv(self.ns["admin"], ["bash", str(DEPLOY / "scripts" / "deploy.sh"), IMAGE_TAG]),
            env=env,
            check=False,
            timeout=900,
        )
        lines = [ln.split("] ", 1)[-1] for ln in res.stdout.splitlines() if "/5" in ln or "sain" in ln]
        self.report.check(
            "deploy.sh : migrations puis redémarrage progressif des conteneurs",
            res.returncode == 0,
            f"{time.monotonic() - t:.0f} s ; "
            + " ; ".join(lines[-6:])
            + ("" if res.returncode == 0 else " ; " + (res.stderr or res.stdout)[-600:]),
        )

    def cleanup(self) -> None:
        if self.host_netns_fd is not None:
            with contextlib.suppress(OSError):
                base.setns(f"/proc/self/fd/{self.host_netns_fd}")
        self.stop_ticker.set()
        for name in [n for n, p in self.procs.items() if isinstance(p, Container)]:
            del self.procs[name]
        for server in COMPOSE_FILES:
            if self.socket(server).exists():
                with contextlib.suppress(Exception):
                    self.dc(server, "down", "-v", "-t", "10", check=False, timeout=300)
        for proc in self.engines.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(15)
        # Ce que compose n'aurait pas retiré (conteneurs ponctuels, volumes) : seulement les nôtres.
        for project in self.projects.values():
            with contextlib.suppress(Exception):
                ids = podman(
                    "ps", "-aq", "--filter", f"label=com.docker.compose.project={project}", check=False
                ).stdout.split()
                if ids:
                    podman("rm", "-f", *ids, check=False)
                vols = podman(
                    "volume",
                    "ls",
                    "-q",
                    "--filter",
                    f"label=com.docker.compose.project={project}",
                    check=False,
                ).stdout.split()
                if vols:
                    podman("volume", "rm", "-f", *vols, check=False)
        for server in ("api", "workers"):
            with contextlib.suppress(OSError):
                (self.tmp / server / "data").unlink()
        super().cleanup()


def preflight() -> list[str]:
    missing = [m for m in base.preflight() if m != ".venv (make install)"]
    for exe in ("podman", "docker-compose", "nsenter"):
        if shutil.which(exe) is None:
            missing.append(exe)
    for image in (
        f"{IMAGES['SAMACONSO_IMAGE']}:{IMAGE_TAG}",
        IMAGES["REDIS_IMAGE"],
        IMAGES["RABBITMQ_IMAGE"],
    ):
        if shutil.which("podman") and podman("image", "exists", image, check=False).returncode != 0:
            missing.append(f"image {image} (deploy/containers/build-images.sh)")
    return missing


def main() -> int:
    missing = preflight()
    if missing:
        print("répétition en conteneurs impossible, manquent : " + ", ".join(missing), file=sys.stderr)
        return 2
    from scenario import run_scenario

    r = ContainerRehearsal()

    def steps() -> None:
        say(
            f"répertoire de travail {r.tmp} ; espaces de noms {TAG}-* ; projets compose {list(r.projects.values())}"
        )
        r.build_network()
        r.host_netns_fd = os.open("/proc/self/ns/net", os.O_RDONLY)
        r.make_secrets()
        r.apply_firewalls()
        r.start_engines()
        r.start_data_server()
        r.start_api_server()
        r.start_workers_server()
        r.start_load_balancer()
        r.wait_workers_ready(timeout=180)
        r.check_firewall()
        r.check_argv()
        r.platform_health()
        r.check_deploy_script()
        r.print_overrides("répétition en conteneurs")
        print("  moteur = podman 4.3 + docker-compose 1.29 (Debian), au lieu de Docker Engine + Compose v2")
        print("  images de base = paquets Debian (build-images.sh) au lieu des images officielles")
        base.setns(f"/var/run/netns/{r.ns['client']}")
        run_scenario(r)

    return run_drill(r, steps)


if __name__ == "__main__":
    sys.exit(main())
