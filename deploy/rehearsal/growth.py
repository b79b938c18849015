"""Montée en charge de la répétition (§ 13.3 du guide) : la plate-forme passe à trois instances d'API et
deux serveurs de workers, pilotés par l'inventaire, puis perd une instance d'API et un serveur de
workers sous trafic et continue de servir.

1. Inventaire : celui du dépôt (deploy/inventory.conf) plus deux lignes, comme le guide le demande :
   ``api api_3 10.20.0.14 … 8001 api_1`` (serveur 2b) et ``worker worker_3 10.20.0.15 … 9808 worker_2``
   (serveur 3b, mêmes files que worker_2 : normal, low_priority, où tourne la diffusion).
2. Les deux serveurs (espaces de noms) sont créés ; leurs adresses entrent dans ``APP_SERVERS`` d'une
   copie de samaconso-addresses.nft, rechargée sur les trois serveurs existants ; chaque nouveau
   serveur charge le fichier nftables de son rôle.
3. Les instances de l'inventaire absentes sont lancées sur l'hôte que l'inventaire leur donne, avec la
   commande du service compose nommé (SAMACONSO_WORKER_2_NAME=worker_3, comme le .env du serveur 3b) ;
   chaque API de l'inventaire absente du répartiteur y est ajoutée (API d'exécution de HAProxy,
   comme un membre ajouté au pool du F5) ; healthcheck.sh (INVENTORY=…) et
   make-prometheus-targets.py (--inventory …) lisent le même fichier.
4. Trafic (6 clients : GET /health, /api/v1/me, /api/v1/admin/users via la VIP) et une diffusion à
   tous ; pendant l'envoi, api_3 est tué (SIGKILL) et le serveur 3b est perdu (lien réseau coupé,
   puis ses processus tués : RabbitMQ ne reçoit aucune fermeture, il constate la perte par les
   battements de cœur AMQP).
5. Vérifié : requêtes en échec ≤ ÉCHECS_TOLÉRÉS (retries du répartiteur), diffusion complète (chaque
   appareil ciblé a sa livraison, aucune en attente, une seule livraison par appareil en base),
   doublons chez le fournisseur comptés (bornés par les lots en cours sur l'hôte perdu),
   healthcheck.sh signale api_3 et worker_3.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from netns import APP_USER, DEPLOY, VENV_BIN, compose_commands, ns_argv, run
from scenario import (
    API,
    Client,
    Rehearsal,
    RequestPicker,
    healthcheck_output,
    post_broadcast,
    routes,
    staff_token,
    traffic,
    wait_broadcast_done,
)

NEW_API_HOST = ("api-b", "10.20.0.14")
NEW_WORKERS_HOST = ("workers-b", "10.20.0.15")
GROWTH_ROWS = (
    f"api      api_3      {NEW_API_HOST[1]}   {NEW_API_HOST[1]}   8001   api_1",
    f"worker   worker_3   {NEW_WORKERS_HOST[1]}   {NEW_WORKERS_HOST[1]}   9808   worker_2",
)
# Requêtes en échec tolérées pendant les pertes : HAProxy rejoue ce qui n'a pas atteint l'API
# (retry-on conn-failure empty-response) ; une requête reçue par api_3 au moment du SIGKILL, dont la
# réponse était en cours d'écriture, peut échouer (une par client au plus).
ALLOWED_FAILURES = 6
TRAFFIC_CLIENTS = 6
DEVICES = 10_000
# Lots send_batch (PAGE_SIZE appareils) qu'un worker_3 (--concurrency 4) peut avoir en cours.
IN_FLIGHT_BOUND = 4 * 1000


def read_rows(path: Path) -> list[list[str]]:
    return [
        line.split()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def healthcheck(r: Any, inventory: Path) -> tuple[int, str]:
    return healthcheck_output(r, inventory, timeout=180)


def line_state(output: str, label: str) -> str:
    """OK / ÉCHEC de la ligne de healthcheck.sh qui commence par ``label`` ("" si absente)."""
    for ln in output.splitlines():
        m = re.match(r"\s+(OK|ÉCHEC)\s+(.*)$", ln)
        if m and m.group(2).startswith(label):
            return m.group(1)
    return ""


def grow_inventory(r: Any) -> Path:
    """L'inventaire du dépôt (mêmes adresses que le plan de la répétition) plus les deux serveurs."""
    rows = read_rows(DEPLOY / "inventory.conf")
    known = {r.addr["api"], r.addr["workers"]}
    foreign = sorted({row[3] for row in rows} - known)
    if foreign:
        raise RuntimeError(f"inventory.conf : adresses hors du plan de la répétition : {foreign}")
    path = r.tmp / "inventory-growth.conf"
    text = (DEPLOY / "inventory.conf").read_text(encoding="utf-8").rstrip("\n")
    path.write_text(text + "\n# montée en charge (répétition)\n" + "\n".join(GROWTH_ROWS) + "\n")
    return path


def grow_firewall(r: Any) -> Path:
    """Copie de deploy/firewall avec les nouvelles adresses dans APP_SERVERS, rechargée partout."""
    fw = r.tmp / "firewall-growth"
    shutil.copytree(DEPLOY / "firewall", fw)
    addresses = fw / "samaconso-addresses.nft"
    text = addresses.read_text()
    new = f", {NEW_API_HOST[1]}, {NEW_WORKERS_HOST[1]} }}"
    grown, n = re.subn(
        r"^(define APP_SERVERS\s*=\s*\{[^}]*?)\s*\}", lambda m: m.group(1) + new, text, flags=re.M
    )
    if n != 1:
        raise RuntimeError("samaconso-addresses.nft : définition APP_SERVERS introuvable")
    addresses.write_text(grown)
    for role, file in (
        ("data", "server1-data.nft"),
        ("api", "server2-api.nft"),
        ("workers", "server3-workers.nft"),
        (NEW_API_HOST[0], "server2-api.nft"),
        (NEW_WORKERS_HOST[0], "server3-workers.nft"),
    ):
        run(ns_argv(r.ns[role], ["nft", "-I", str(fw), "-f", str(fw / file)]))
    return fw


def start_missing_instances(r: Any, inventory: Path) -> list[str]:
    """Lance chaque instance de l'inventaire qui ne tourne pas, sur le serveur que l'inventaire nomme."""
    role_of_addr = {addr: role for role, addr in r.addr.items()}
    started = []
    for row in read_rows(inventory):
        kind, name, _host, addr, port, service = row
        if kind not in ("api", "worker") or name in r.procs:
            continue
        role = role_of_addr[addr]
        server = role
        if kind == "api":
            variables = {f"SAMACONSO_{service.upper()}_NAME": name}
            argv = compose_commands(DEPLOY / "docker-compose.production.yml", variables)[service]
        else:
            variables = {f"SAMACONSO_{service.upper()}_NAME": name}
            argv = compose_commands(DEPLOY / "docker-compose.workers.yml", variables)[service]
        argv[0] = str(VENV_BIN / "samaconso")
        env = r.app_environment(server, name)
        if kind == "worker":
            env["SAMACONSO_WORKER_METRICS_PORT"] = port
            env["SAMACONSO_WORKER_METRICS_HOST"] = "0.0.0.0"  # noqa: S104 - pare-feu : réseau d'administration
        proc = r.spawn(name, role, argv, env, server)
        if kind == "api":
            url = f"http://{addr}:{port}/health"
            deadline = time.monotonic() + 90
            while not r.http_running(r.ns[role], url):
                if not proc.alive or time.monotonic() > deadline:
                    raise RuntimeError(f"{name} ne démarre pas sur {addr}:{port}\n{proc.tail()}")
                time.sleep(0.5)
        started.append(f"{name} ({' '.join(argv[1:4])}… sur {addr})")
    return started


def add_to_load_balancer(r: Any, inventory: Path) -> list[str]:
    present = set(r.lb_states())
    added = []
    for kind, name, _host, addr, port, _service in read_rows(inventory):
        if kind != "api" or name in present:
            continue
        out = r.lb_command(
            f"add server samaconso_api/{name} {addr}:{port} check inter 2s fall 2 rise 2 maxconn 2000"
        )
        if "New server registered" not in out:
            raise RuntimeError(f"HAProxy add server {name} : {out}")
        r.lb_command(f"enable health samaconso_api/{name}")
        r.lb_command(f"enable server samaconso_api/{name}")
        added.append(name)
    return added


def staff_rounds(token: str) -> RequestPicker:
    """Tour à tour /health, GET /me et la liste des agents (celle-ci lue sur la réplique quand il y en a)."""
    paths = ("/health", f"{API}/me", f"{API}/admin/users?limit=20")
    headers = {"Authorization": f"Bearer {token}"}

    def pick(n: int) -> tuple[str, dict[str, str]]:
        path = paths[n % len(paths)]
        return path, headers if path != "/health" else {}

    return pick


def insert_devices(r: Any) -> bool:
    make = (
        "import asyncio, hashlib, uuid\n"
        "from sqlalchemy import insert\n"
        "from samaconso.identity.models import Device, Role, User\n"
        "from samaconso.kit.db import Database\n"
        "from samaconso.settings import get_settings\n"
        "async def main():\n"
        "    db = Database(get_settings())\n"
        "    users = [dict(id=uuid.uuid4(), role=Role.customer, phone=f'+22177{i:07d}', first_name='Croissance',\n"
        "                  last_name=str(i)) for i in range(N)]\n"
        "    devs = [dict(id=uuid.uuid4(), user_id=u['id'], device_id=f'growth-{i}', fcm_token=f'growth-token-{i}',\n"
        "                 fcm_token_hash=hashlib.sha256(f'growth-token-{i}'.encode()).hexdigest(), platform='android')\n"
        "            for i, u in enumerate(users)]\n"
        "    async with db.sessionmaker() as s:\n"
        "        for k in range(0, N, 500):\n"
        "            await s.execute(insert(User), users[k:k + 500])\n"
        "            await s.execute(insert(Device), devs[k:k + 500])\n"
        "        await s.commit()\n"
        "    await db.dispose()\n"
        f"N = {DEVICES}\n"
        "asyncio.run(main())\n"
    )
    res = run(
        ns_argv(r.ns["api"], [str(VENV_BIN / "python"), "-c", make], user=APP_USER),
        env=r.app_environment("api", "growth-data"),
        timeout=300,
        check=False,
        cwd=r.tmp / "api",
    )
    return r.report.check(
        "croissance : 10 000 clients de plus avec un appareil chacun",
        res.returncode == 0,
        "insérés en base" if res.returncode == 0 else (res.stderr or res.stdout)[-300:],
    )


def outbox_tokens(r: Any, nid: str) -> tuple[Counter[str], int]:
    """Envois de la notification ``nid`` dans les outbox push de tous les serveurs de workers."""
    sent: Counter[str] = Counter()
    torn = 0
    for server in ("workers", NEW_WORKERS_HOST[0]):
        path = r.tmp / server / "data" / "outbox" / "push.jsonl"
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if nid not in line:
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                torn += 1  # ligne coupée par la perte de l'hôte
                continue
            sent[str((rec.get("message") or rec).get("token"))] += 1
    return sent, torn


def lose_worker_host(r: Any) -> None:
    """Panne du serveur 3b : plus de réseau d'abord (aucune fermeture TCP n'arrive), puis plus rien."""
    role = NEW_WORKERS_HOST[0]
    run(["ip", "-n", r.ns[role], "link", "set", "eth0", "down"])
    pids = subprocess.run(["ip", "netns", "pids", r.ns[role]], capture_output=True, text=True).stdout.split()
    for pid in pids:
        subprocess.run(["kill", "-KILL", pid], capture_output=True)


def run_growth(r: Rehearsal, c: Client | None = None) -> None:
    rep = r.report
    rr: Any = r
    c = c or Client(r)
    inventory = grow_inventory(rr)
    rr.add_host(*NEW_API_HOST)
    rr.add_host(*NEW_WORKERS_HOST)
    fw = grow_firewall(rr)
    started = start_missing_instances(rr, inventory)
    added = add_to_load_balancer(rr, inventory)
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and r.lb_states().get("api_3") != "UP":
        time.sleep(0.5)
    rr.wait_workers_ready(("worker_1", "worker_2", "worker_3"), timeout=120)
    states = r.lb_states()
    rep.check(
        "croissance : 3 API et 2 serveurs de workers depuis l'inventaire",
        states == {"api_1": "UP", "api_2": "UP", "api_3": "UP"},
        f"{inventory.name} : inventory.conf + {len(GROWTH_ROWS)} lignes ; lancés : {started} ; ajouté à "
        f"HAProxy (API d'exécution) : {added} ; états : {states} ; APP_SERVERS de {fw.name} rechargé sur "
        "les 5 serveurs",
    )
    prom = r.tmp / "prometheus-growth.yml"
    shutil.copy(DEPLOY / "monitoring" / "prometheus.yml", prom)
    res = run(
        [
            str(VENV_BIN / "python"),
            str(DEPLOY / "scripts" / "make-prometheus-targets.py"),
            "--inventory",
            str(inventory),
            "--config",
            str(prom),
        ],
        check=False,
    )
    text = prom.read_text()
    rep.check(
        "croissance : cibles Prometheus depuis l'inventaire",
        res.returncode == 0 and f"{NEW_API_HOST[1]}:8001" in text and f"{NEW_WORKERS_HOST[1]}:9808" in text,
        f"make-prometheus-targets.py --inventory : {NEW_API_HOST[1]}:8001 et {NEW_WORKERS_HOST[1]}:9808 "
        f"dans prometheus.yml : {f'{NEW_API_HOST[1]}:8001' in text and f'{NEW_WORKERS_HOST[1]}:9808' in text}"
        + (f" ; {res.stderr[-200:]}" if res.returncode else ""),
    )
    code, before_out = healthcheck(rr, inventory)
    before = {
        k: line_state(before_out, k) for k in ("api_3 /health", "worker_3 (Flower)", "worker_3 /metrics")
    }
    rep.check(
        "croissance : healthcheck.sh voit api_3 et worker_3",
        all(v == "OK" for v in before.values()),
        f"INVENTORY={inventory.name} : {before} (code {code})",
    )

    available = routes(c)
    admin = staff_token(r, c, available)
    if not admin or not insert_devices(rr):
        rep.failed("croissance : pertes sous trafic", "pas d'administrateur ou pas d'appareils")
        return
    total_devices = int(
        r.psql(
            "SELECT count(*) FROM devices WHERE is_active AND fcm_token IS NOT NULL AND token_invalid_at IS NULL",
            db="samaconso",
        )
    )

    stop = threading.Event()
    results: list[tuple[float, str]] = []
    samples: list[str] = []
    t0 = time.monotonic()
    threads = [
        threading.Thread(
            target=traffic,
            args=(c.base, staff_rounds(admin), stop, results, t0, samples),
            kwargs={"timeout": 15.0, "max_samples": 6},
            daemon=True,
        )
        for _ in range(TRAFFIC_CLIENTS)
    ]
    for t in threads:
        t.start()
    timeline: list[str] = []
    stats: dict[str, Any] = {}
    nid = ""
    hc_down: tuple[int, str] = (0, "")
    try:
        time.sleep(3)
        posted = post_broadcast(
            c,
            admin,
            ("Montée en charge", "Growth"),
            ("Répétition : perte d'un serveur", "Rehearsal: a host is lost"),
        )
        if posted.status_code != 202:
            rep.failed("croissance : diffusion à tous", f"{posted.status_code} {posted.text[:200]}")
            return
        nid = posted.json()["id"]
        timeline.append(f"{time.monotonic() - t0:.1f}s diffusion {nid[:8]} acceptée")
        while time.monotonic() - t0 < 60:
            stats = c.request("GET", f"{API}/notifications/{nid}", admin).json()
            if stats.get("sent", 0) > 0:
                break
            time.sleep(0.1)
        timeline.append(f"{time.monotonic() - t0:.1f}s envoi commencé (envoyés {stats.get('sent')})")
        r.procs["api_3"].send(signal.SIGKILL)
        timeline.append(f"{time.monotonic() - t0:.1f}s api_3 tué (SIGKILL)")
        lose_worker_host(rr)
        sent_at_loss = stats.get("sent", 0)
        timeline.append(f"{time.monotonic() - t0:.1f}s serveur 3b perdu (lien coupé, processus tués)")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and r.lb_states().get("api_3") != "DOWN":
            time.sleep(0.3)
        timeline.append(f"{time.monotonic() - t0:.1f}s HAProxy : api_3 {r.lb_states().get('api_3')}")
        hc_down = healthcheck(rr, inventory)
        stats = wait_broadcast_done(c, admin, nid, total_devices, 420)
        timeline.append(
            f"{time.monotonic() - t0:.1f}s diffusion terminée (ciblés {stats.get('targeted_devices')}, "
            f"en attente {stats.get('pending')})"
        )
        time.sleep(2)
    finally:
        stop.set()
        for t in threads:
            t.join(20)

    outcomes = Counter(o for _, o in results)
    ok = outcomes.get("200", 0)
    failed = {o: n for o, n in outcomes.items() if o != "200"}
    n_failed = sum(failed.values())
    duration = results[-1][0] if results else 0.0
    rep.check(
        f"croissance : api_3 et le serveur 3b perdus sous trafic, ≤ {ALLOWED_FAILURES} requêtes en échec",
        n_failed <= ALLOWED_FAILURES and ok > 100,
        f"{len(results)} requêtes via la VIP en {duration:.0f} s ({TRAFFIC_CLIENTS} clients), {ok} OK, "
        f"échecs : {failed or 'aucun'} ; "
        + " ; ".join(timeline)
        + (f" ; exemples : {samples}" if samples else ""),
    )
    sent, torn = outbox_tokens(rr, nid)
    deliveries_sql = (
        "SELECT count(*), count(DISTINCT device_id), "
        "count(*) FILTER (WHERE status NOT IN ('sent','failed','dead')) "
        "FROM notification_deliveries WHERE notification_id = '{}'"
    )
    per_device = r.psql(deliveries_sql.format(uuid.UUID(nid)), db="samaconso")
    rows, distinct, unfinished = (int(x) for x in per_device.split("|"))
    duplicates = sum(sent.values()) - len(sent)
    targeted = int(stats.get("targeted_devices", 0))
    delivered = int(stats.get("sent", 0)) + int(stats.get("failed", 0)) + int(stats.get("dead_tokens", 0))
    rep.check(
        "croissance : la diffusion est livrée en entier, une livraison par appareil",
        bool(stats.get("fanout_complete"))
        and targeted == total_devices
        and delivered == targeted
        and rows == distinct == targeted
        and unfinished == 0
        and len(sent) == targeted
        and duplicates <= IN_FLIGHT_BOUND
        and 0 < sent_at_loss < total_devices,
        f"{total_devices} appareils ; perte à {sent_at_loss} envoyés ; ciblés {targeted}, livrés {delivered} "
        f"(envoyés {stats.get('sent')}, échecs {stats.get('failed')}) ; en base {rows} livraisons pour {distinct} "
        f"appareils, {unfinished} non terminée(s) ; outbox push (serveurs 3 et 3b) : {len(sent)} appareils "
        f"distincts, {duplicates} doublon(s) chez le fournisseur (lots repris après la perte, borne "
        f"{IN_FLIGHT_BOUND})" + (f", {torn} ligne(s) coupée(s)" if torn else ""),
    )
    code, out = hc_down
    after = {
        k: line_state(out, k)
        for k in ("api_3 /health", "worker_3 (Flower)", "api_1 /health", "worker_1 (Flower)")
    }
    rep.check(
        "croissance : healthcheck.sh signale api_3 et worker_3 perdus, les autres en service",
        code == 1
        and after["api_3 /health"] == "ÉCHEC"
        and after["worker_3 (Flower)"] == "ÉCHEC"
        and after["api_1 /health"] == "OK"
        and after["worker_1 (Flower)"] == "OK",
        f"code {code} ; {after}",
    )
