"""Scénario de la répétition, joué depuis l'espace de noms « client » à travers la VIP (HAProxy).

Étapes : parcours client (inscription avec le code SMS lu dans l'outbox, connexion, ajout d'un
compteur, diffusion), arrêt d'api_1 puis redémarrage progressif sous trafic (aucune requête en
échec), arrêt brutal de worker_2 pendant une diffusion (aucun message perdu), sauvegarde de la nuit
puis restauration dans une base neuve (mêmes nombres de lignes).
Les étapes dont les routes n'existent pas (encore) dans l'API sont signalées SKIPPED, jamais OK.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import httpx
from netns import APP_USER, DEPLOY, VENV_BIN, base_env, ns_argv, parse_env_file, run


class Rehearsal(Protocol):
    """What the scenario uses of the running rehearsal (``rehearsal.Rehearsal``), which calls it:
    the scenario never imports the orchestrator back."""

    addr: dict[str, str]
    ns: dict[str, str]
    procs: Any
    report: Any
    secrets: Path
    tmp: Path

    def app_environment(self, *args: Any, **kwargs: Any) -> Any: ...
    def lb_command(self, command: str) -> str: ...
    def lb_states(self) -> dict[str, str]: ...
    def lb_sessions(self) -> dict[str, int]: ...
    def psql(self, *args: Any, **kwargs: Any) -> Any: ...
    def read_secret(self, *args: Any, **kwargs: Any) -> Any: ...
    def start_api(self, *args: Any, **kwargs: Any) -> Any: ...
    def start_worker(self, *args: Any, **kwargs: Any) -> Any: ...


API = "/api/v1"


class Client:
    def __init__(self, r: Rehearsal) -> None:
        self.base = f"https://{r.addr['vip']}"
        self.http = httpx.Client(base_url=self.base, verify=False, timeout=15.0)  # noqa: S501 - certificat de test

    def request(self, method: str, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        headers = kw.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.request(method, path, headers=headers, **kw)


def routes(client: Client) -> set[tuple[str, str]]:
    spec = client.request("GET", "/openapi.json")
    if spec.status_code != 200:
        return set()
    return {(m.upper(), p) for p, ops in spec.json().get("paths", {}).items() for m in ops}


def outbox_code(r: Rehearsal, phone: str, after: float, timeout: float = 30) -> str | None:
    """Le code à 6 chiffres du dernier SMS envoyé à ``phone`` (outbox des serveurs 2 et 3)."""
    import re

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for server in ("workers", "api"):
            path = r.tmp / server / "data" / "outbox" / "sms.jsonl"
            if not path.exists():
                continue
            for line in reversed(path.read_text(encoding="utf-8").splitlines()):
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                text = json.dumps(rec, ensure_ascii=False)
                digits = phone.lstrip("+")
                if digits in text.replace("+", ""):
                    m = re.search(
                        r"\b(\d{6})\b", str(rec.get("message") or rec.get("text") or rec.get("body") or text)
                    )
                    if m:
                        return m.group(1)
        time.sleep(0.5)
    return None


def run_scenario(r: Rehearsal) -> None:
    c = Client(r)
    rep = r.report
    health = c.request("GET", "/health")
    rep.check(
        "VIP : GET /health via HAProxy (TLS)",
        health.status_code == 200 and "running" in health.text,
        f"{health.status_code} {health.text[:80]}",
    )
    available = routes(c)
    rep.ok("routes de l'API", f"{len(available)} opérations publiées dans /openapi.json")
    state: dict[str, Any] = {}
    customer_journey(r, c, available, state)
    rolling_restart_under_traffic(r, c, state)
    worker_kill_during_broadcast(r, c, available, state)
    backup_and_restore(r)


# ------------------------------------------------------------------------------------------------
def customer_journey(r: Rehearsal, c: Client, available: set[tuple[str, str]], state: dict[str, Any]) -> None:
    rep = r.report
    from samaconso.legacy import generator as g

    phone = g.DEMO_PHONE  # le téléphone inscrit dans la source existante pour le compteur de démonstration
    state["phone"] = phone
    if ("POST", f"{API}/auth/otp") not in available or ("POST", f"{API}/auth/signup") not in available:
        rep.skipped("parcours : inscription", "routes /auth/otp, /auth/signup absentes")
        return
    t = time.time()
    res = c.request("POST", f"{API}/auth/otp", json={"phone": phone, "purpose": "signup"})
    if not rep.check(
        "parcours : demande de code SMS", res.status_code == 202, f"{res.status_code} {res.text[:120]}"
    ):
        return
    code = outbox_code(r, phone, t)
    if not rep.check(
        "parcours : code lu dans l'outbox SMS",
        code is not None,
        "outbox du serveur 3 (tâche send_sms, file urgent, worker_1)" if code else "aucun SMS",
    ):
        return
    pin = "482913"
    res = c.request(
        "POST",
        f"{API}/auth/signup",
        json={
            "phone": phone,
            "otp": code,
            "pin": pin,
            "first_name": "Awa",
            "last_name": "Ndiaye",
            "language": "fr",
        },
    )
    if not rep.check("parcours : inscription", res.status_code == 201, f"{res.status_code} {res.text[:160]}"):
        return
    res = c.request("POST", f"{API}/auth/login", json={"phone": phone, "pin": pin})
    if not rep.check(
        "parcours : connexion (PIN)", res.status_code == 200, f"{res.status_code} {res.text[:120]}"
    ):
        return
    state["token"] = token = res.json()["access_token"]
    me = c.request("GET", f"{API}/me", token)
    rep.check(
        "parcours : GET /me", me.status_code == 200 and me.json().get("phone") == phone, f"{me.status_code}"
    )
    if ("PUT", f"{API}/me/avatar") in available:
        res = c.request(
            "PUT", f"{API}/me/avatar", token, content=tiny_png(), headers={"Content-Type": "image/png"}
        )
        rep.check(
            "parcours : photo de profil (S3, compartiment avatars)",
            res.status_code == 200,
            f"{res.status_code} {res.text[:120]}",
        )
    link_meter(r, c, available, state, token)
    more_endpoints(r, c, available, state, token)
    broadcast_to_customer(r, c, available, state)


def tiny_png() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    raw = b"".join(b"\x00" + b"\xff\x80\x00" * 8 for _ in range(8))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def link_meter(
    r: Rehearsal, c: Client, available: set[tuple[str, str]], state: dict[str, Any], token: str
) -> None:
    rep = r.report
    if ("POST", f"{API}/me/meters") not in available:
        rep.skipped("parcours : ajout d'un compteur", "route POST /me/meters absente")
        return
    from samaconso.legacy import generator as g

    number = g.DEMO_PREPAID_METER
    res = c.request("POST", f"{API}/me/meters", token, json={"kind": "prepaid", "number": number})
    if res.status_code == 201:
        state["meter_id"] = res.json().get("id")
    rep.check(
        "parcours : ajout d'un compteur (propriétaire : lien actif)",
        res.status_code == 201,
        f"{res.status_code} compteur {number} : {res.text[:200]}",
    )
    listed = c.request("GET", f"{API}/me/meters", token)
    rep.check(
        "parcours : liste des compteurs",
        listed.status_code == 200 and len(listed.json().get("items", [])) == 1,
        f"{listed.status_code} {listed.text[:120]}",
    )


def more_endpoints(
    r: Rehearsal, c: Client, available: set[tuple[str, str]], state: dict[str, Any], token: str
) -> None:
    """Les autres routes du parcours client, quand elles existent : achats du compteur (source existante),
    simulateur Woyofal, pièce jointe (compartiment documents) et son lien de téléchargement."""
    rep = r.report
    meter_id = state.get("meter_id")
    if meter_id and ("GET", f"{API}/me/meters/{{meter_id}}/purchases") in available:
        res = c.request("GET", f"{API}/me/meters/{meter_id}/purchases?limit=5", token)
        items = res.json().get("items", []) if res.status_code == 200 else []
        rep.check(
            "parcours : achats Woyofal du compteur (source existante)",
            res.status_code == 200 and bool(items),
            f"{res.status_code}, {len(items)} achat(s)",
        )
    if ("POST", f"{API}/simulator/prepaid") in available:
        res = c.request("POST", f"{API}/simulator/prepaid", token, json={"amount": 5000})
        rep.check(
            "parcours : simulateur Woyofal (5 000 FCFA)",
            res.status_code == 200,
            f"{res.status_code} {res.text[:140]}",
        )
    if ("POST", f"{API}/files") in available and ("GET", f"{API}/files/{{file_id}}") in available:
        pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
        res = c.request(
            "POST", f"{API}/files", token, files={"file": ("facture.pdf", pdf, "application/pdf")}
        )
        if not rep.check(
            "parcours : pièce jointe (S3, compartiment documents)",
            res.status_code == 201,
            f"{res.status_code} {res.text[:140]}",
        ):
            return
        file_id = res.json()["id"]
        if ("POST", f"{API}/me/requests") in available and ("GET", f"{API}/request-types") in available:
            types = c.request("GET", f"{API}/request-types", token).json().get("items", [])
            if types:
                req = c.request(
                    "POST",
                    f"{API}/me/requests",
                    token,
                    json={
                        "type": types[0]["code"],
                        "meter_id": meter_id,
                        "attachments": [file_id],
                        "comment": "Répétition : demande avec pièce jointe",
                    },
                )
                rep.check(
                    "parcours : demande à l'agence avec pièce jointe",
                    req.status_code == 201,
                    f"{req.status_code} type {types[0]['code']} : {req.text[:120]}",
                )
        link = c.request("GET", f"{API}/files/{file_id}", token)
        url = link.json().get("url", "") if link.status_code == 200 else ""
        rep.check(
            "parcours : lien de téléchargement présigné",
            link.status_code == 200 and url.startswith("http"),
            f"{link.status_code} {url.split('?')[0]}",
        )
        if url:
            phone_download(r, url, pdf)


def curl_from(r: Rehearsal, ns_role: str, argv: list[str]) -> tuple[int, str, str, bytes]:
    """curl lancé par `ip netns exec` (donc avec /etc/netns/<espace>/hosts) : code de sortie, code HTTP,
    en-têtes, corps."""
    import subprocess

    out = r.tmp / "client" / f"curl-{uuid.uuid4().hex[:8]}"
    out.parent.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(
        ns_argv(
            r.ns[ns_role],
            [
                "curl",
                "-sS",
                "--max-time",
                "5",
                "-D",
                f"{out}.h",
                "-o",
                f"{out}.b",
                "-w",
                "%{http_code}",
                *argv,
            ],
        ),
        capture_output=True,
        text=True,
        timeout=30,
    )
    headers = Path(f"{out}.h").read_text(errors="replace") if Path(f"{out}.h").exists() else ""
    body = Path(f"{out}.b").read_bytes() if Path(f"{out}.b").exists() else b""
    for suffix in (".h", ".b"):
        Path(f"{out}{suffix}").unlink(missing_ok=True)
    return res.returncode, res.stdout.strip(), headers, body


def phone_download(r: Rehearsal, url: str, expected: bytes) -> None:
    """Le téléphone (espace client) ouvre le lien présigné : nom public résolu vers la VIP, HAProxy
    (même configuration que la production) vers le stockage objet ; le stockage reste fermé en direct."""
    from urllib.parse import urlsplit

    rep = r.report
    cacert = str(r.tmp / "lb" / "cert.pem")
    parts = urlsplit(url)
    code, status, headers, body = curl_from(r, "client", ["--cacert", cacert, url])
    disposition = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in headers.splitlines()
            if ln.lower().startswith("content-disposition:")
        ),
        "",
    )
    rep.check(
        "parcours : téléchargement depuis le téléphone",
        code == 0 and status == "200" and body == expected and disposition.startswith("attachment"),
        f"{parts.scheme}://{parts.netloc} → VIP {r.addr['vip']} (/etc/netns hosts) : curl {code}, HTTP {status}, "
        f"{len(body)} octets {'identiques' if body == expected else 'DIFFÉRENTS'} ; "
        f"Content-Disposition: {disposition or 'absent'}",
    )
    # Ce que le virtuel « fichiers » refuse : écriture, chemin hors compartiments publiés, lien non signé.
    # PUT sans corps : avec un corps en cours d'envoi, le refus (405) peut arriver comme un flux HTTP/2 réinitialisé.
    refused = {
        "PUT signé": curl_from(r, "client", ["--cacert", cacert, "-X", "PUT", url])[1],
        "GET liste des compartiments": curl_from(
            r, "client", ["--cacert", cacert, f"{parts.scheme}://{parts.netloc}/?{parts.query}"]
        )[1],
        "GET sans signature": curl_from(
            r, "client", ["--cacert", cacert, f"{parts.scheme}://{parts.netloc}{parts.path}"]
        )[1],
        "GET /api/v1/me": curl_from(
            r, "client", ["--cacert", cacert, f"{parts.scheme}://{parts.netloc}/api/v1/me"]
        )[1],
    }
    rep.check(
        "fichiers publics : seuls les GET signés sur /documents/ et /avatars/ passent",
        refused
        == {
            "PUT signé": "405",
            "GET liste des compartiments": "403",
            "GET sans signature": "403",
            "GET /api/v1/me": "403",
        },
        " ; ".join(f"{k} → {v}" for k, v in refused.items()),
    )
    direct = f"http://{r.addr['data']}:9000{parts.path}?{parts.query}"
    code, status, _, _ = curl_from(r, "client", ["--connect-timeout", "3", direct])
    rep.check(
        "fichiers publics : le stockage objet reste fermé au téléphone en direct",
        code != 0 and status in ("000", ""),
        f"GET http://{r.addr['data']}:9000{parts.path}… depuis le client : curl {code} (HTTP {status or '000'}), "
        "refusé par server1-data.nft",
    )


def staff_views(r: Rehearsal, c: Client, available: set[tuple[str, str]], admin: str) -> None:
    """Vues des agents/administrateurs et suivi d'abonnement, quand les routes existent."""
    from samaconso.legacy import generator as g

    rep = r.report
    if ("GET", f"{API}/dashboard") in available:
        res = c.request("GET", f"{API}/dashboard", admin)
        rep.check(
            "administration : tableau de bord national",
            res.status_code == 200,
            f"{res.status_code} {res.text[:140]}",
        )
    if ("GET", f"{API}/subscription-notices/{{number}}") in available:
        res = c.request("GET", f"{API}/subscription-notices/{g.DEMO_NOTICE}", params={"phone": g.DEMO_PHONE})
        rep.check(
            "parcours : suivi d'un avis d'abonnement (BI_ODS simulé)",
            res.status_code == 200,
            f"{res.status_code} {res.text[:140]}",
        )


def staff_token(r: Rehearsal, c: Client, available: set[tuple[str, str]]) -> str | None:
    if ("POST", f"{API}/auth/staff/login") not in available:
        return None
    login, password = getattr(r, "admin_login", None), getattr(r, "admin_password", None)
    if not login:
        return None
    res = c.request("POST", f"{API}/auth/staff/login", json={"login": login, "password": password})
    r.report.check(
        "parcours : connexion de l'administrateur",
        res.status_code == 200,
        f"{res.status_code} {res.text[:120]}",
    )
    return str(res.json()["access_token"]) if res.status_code == 200 else None


def post_broadcast(c: Client, admin: str, title: tuple[str, str], body: tuple[str, str]) -> Any:
    """A campaign to everyone, posted by the administrator: title and body as (French, English)."""
    return c.request(
        "POST",
        f"{API}/notifications",
        admin,
        json={
            "target": {"kind": "everyone"},
            "type": "campaign",
            "title": {"fr": title[0], "en": title[1]},
            "body": {"fr": body[0], "en": body[1]},
        },
    )


def broadcast_to_customer(
    r: Rehearsal, c: Client, available: set[tuple[str, str]], state: dict[str, Any]
) -> None:
    rep = r.report
    if ("POST", f"{API}/notifications") not in available:
        rep.skipped("parcours : diffusion", "route POST /notifications absente")
        return
    admin = staff_token(r, c, available)
    if admin is None:
        rep.skipped("parcours : diffusion", "aucun compte administrateur (samaconso seed) pour diffuser")
        return
    state["admin"] = admin
    staff_views(r, c, available, admin)
    listeners = RealtimeListeners(r, state.get("token"))
    listeners.start()
    res = post_broadcast(
        c,
        admin,
        ("Répétition", "Rehearsal"),
        ("Message de répétition de mise en production", "Go-live rehearsal message"),
    )
    if not rep.check(
        "parcours : diffusion à tous", res.status_code == 202, f"{res.status_code} {res.text[:200]}"
    ):
        return
    token = state.get("token")
    got = False
    deadline = time.monotonic() + 60
    while token and time.monotonic() < deadline and not got:
        feed = c.request("GET", f"{API}/me/notifications", token)
        got = feed.status_code == 200 and any(
            "Répétition" in json.dumps(i, ensure_ascii=False) for i in feed.json().get("items", [])
        )
        if not got:
            time.sleep(1)
    rep.check("parcours : le client voit la diffusion", got, "GET /me/notifications")
    listeners.report()


class RealtimeListeners:
    """Deux applications ouvertes (WebSocket wss:// via la VIP), réparties par HAProxy sur api_1 et api_2 :
    la diffusion doit arriver en temps réel sur les deux, quelle que soit l'instance qui les tient."""

    def __init__(self, r: Rehearsal, token: str | None, count: int = 2) -> None:
        self.r, self.token, self.count = r, token, count
        self.ready = threading.Event()
        self.received: list[bool] = []
        self.per_server: dict[str, int] = {}
        self.error = ""
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        if self.token:
            self.thread.start()
            self.ready.wait(20)

    def _run(self) -> None:
        import asyncio
        import ssl

        import websockets

        async def one(ctx: ssl.SSLContext, opened: asyncio.Event, all_open: asyncio.Event) -> bool:
            async with websockets.connect(
                f"wss://{self.r.addr['vip']}{API}/ws", ssl=ctx, open_timeout=10
            ) as ws:
                await ws.send(json.dumps({"type": "auth", "token": self.token}))
                first = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if first.get("type") != "ready":
                    return False
                opened.set()
                await all_open.wait()
                deadline = asyncio.get_running_loop().time() + 30
                while asyncio.get_running_loop().time() < deadline:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 30))
                    if msg.get("type") == "notification" and "Répétition" in json.dumps(
                        msg, ensure_ascii=False
                    ):
                        return True
                return False

        async def main() -> None:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            all_open = asyncio.Event()
            opened = [asyncio.Event() for _ in range(self.count)]
            tasks = []
            for ev in opened:  # l'une après l'autre : leastconn envoie la seconde sur l'autre instance
                tasks.append(asyncio.create_task(one(ctx, ev, all_open)))
                await asyncio.wait_for(ev.wait(), 15)
            self.per_server = self.r.lb_sessions()
            all_open.set()
            self.ready.set()
            self.received = [
                bool(x) for x in await asyncio.gather(*tasks, return_exceptions=True) if x is True
            ]

        try:
            asyncio.run(main())
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.ready.set()

    def report(self) -> None:
        if not self.token:
            self.r.report.skipped("temps réel (WebSocket)", "pas de client connecté")
            return
        self.thread.join(40)
        spread = all(n >= 1 for n in self.per_server.values()) and len(self.per_server) == 2
        self.r.report.check(
            "temps réel : la diffusion arrive sur les WebSocket ouvertes sur api_1 ET api_2",
            len(self.received) == self.count and spread,
            f"{len(self.received)}/{self.count} reçues ; sessions par instance (HAProxy) : {self.per_server}"
            + (f" ; {self.error}" if self.error else ""),
        )


# ------------------------------------------------------------------------------------------------
RequestPicker = Callable[[int], tuple[str, dict[str, str]]]


def traffic(
    base: str,
    pick: RequestPicker,
    stop: threading.Event,
    results: list[tuple[float, str]],
    t0: float,
    samples: list[str],
    *,
    timeout: float = 10.0,
    max_samples: int = 5,
) -> None:
    """Un client qui interroge ``base`` en boucle jusqu'à ``stop`` : la n-ième requête est
    ``pick(n)`` (chemin, en-têtes) ; chaque issue (code HTTP ou exception) va dans ``results`` avec
    son instant, les premiers échecs en clair dans ``samples``."""
    client = httpx.Client(base_url=base, verify=False, timeout=timeout)  # noqa: S501 - certificat de test
    n = 0
    while not stop.is_set():
        path, headers = pick(n)
        n += 1
        try:
            res = client.get(path, headers=headers)
            outcome = str(res.status_code)
            if res.status_code != 200 and len(samples) < max_samples:
                samples.append(f"{time.monotonic() - t0:.1f}s {path} {res.status_code} {res.text[:160]}")
        except httpx.HTTPError as exc:
            outcome = type(exc).__name__
            if len(samples) < max_samples:
                samples.append(f"{time.monotonic() - t0:.1f}s {path} {exc!r}"[:200])
        results.append((time.monotonic() - t0, outcome))
    client.close()


def health_and_me(token: str | None) -> RequestPicker:
    """/health, puis GET /me avec ``token`` une fois sur deux (seulement /health sans jeton)."""

    def pick(n: int) -> tuple[str, dict[str, str]]:
        if token and n % 2 == 1:
            return f"{API}/me", {"Authorization": f"Bearer {token}"}
        return "/health", {}

    return pick


def wait_broadcast_done(c: Client, admin: str, nid: str, devices: int, timeout_s: float) -> dict[str, Any]:
    """The broadcast's figures once it is done, or the last ones read when ``timeout_s`` runs out.
    Delivery rows are born as batches are taken: "targeted" grows to ``devices``; done when all are
    targeted and none is pending."""
    stats: dict[str, Any] = {}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        stats = c.request("GET", f"{API}/notifications/{nid}", admin).json()
        if (
            stats.get("fanout_complete")
            and stats.get("targeted_devices", 0) >= devices
            and stats.get("pending", 1) == 0
        ):
            break
        time.sleep(2)
    return stats


def healthcheck_output(r: Rehearsal, inventory: Path | None = None, timeout: int = 120) -> tuple[int, str]:
    """``healthcheck.sh`` from the admin server: the instances of ``inventory`` when given, else the
    per-server addresses."""
    import subprocess

    env = {
        **base_env(),
        "SRV_DATA": r.addr["data"],
        "SECRETS_DIR": str(r.secrets),
        "FLOWER_USER": parse_env_file(DEPLOY.parent / ".env.production.example")["SAMACONSO_FLOWER_USER"],
    }
    if inventory is not None:
        env["INVENTORY"] = str(inventory)
    else:
        env.update(SRV_API=r.addr["api"], SRV_WORKERS=r.addr["workers"])
    res = subprocess.run(
        ns_argv(r.ns["admin"], ["bash", str(DEPLOY / "scripts" / "healthcheck.sh")]),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return res.returncode, res.stdout


def rolling_restart_under_traffic(r: Rehearsal, c: Client, state: dict[str, Any]) -> None:
    """Arrêt d'api_1 sous trafic (SIGTERM, comme `docker compose stop`), puis redémarrage progressif
    comme deploy.sh : api_1 relancé, remis seulement quand HAProxy le voit sain, puis api_2."""
    rep = r.report
    stop = threading.Event()
    results: list[tuple[float, str]] = []
    samples: list[str] = []
    t0 = time.monotonic()
    threads = [
        threading.Thread(
            target=traffic, args=(c.base, health_and_me(state.get("token")), stop, results, t0, samples)
        )
        for _ in range(6)
    ]
    for t in threads:
        t.start()
    timeline: list[str] = []
    try:
        time.sleep(2)
        for service, port in (("api_1", 8001), ("api_2", 8002)):
            timeline.append(f"{time.monotonic() - t0:.1f}s arrêt {service}")
            r.procs[service].stop(timeout=30)
            time.sleep(3)  # le trafic continue sur l'autre instance
            if service == "api_1":  # le contrôle de santé doit voir la panne
                hc = healthcheck_output(r)
                down_seen = hc[0] == 1 and any(
                    "ÉCHEC" in ln and "api_1 /health" in ln for ln in hc[1].splitlines()
                )
                state["healthcheck_api_1_down"] = down_seen
            timeline.append(f"{time.monotonic() - t0:.1f}s redémarrage {service}")
            r.start_api(service, port)
            deadline = time.monotonic() + 30
            while r.lb_states().get(service) != "UP" and time.monotonic() < deadline:
                time.sleep(0.2)
            timeline.append(f"{time.monotonic() - t0:.1f}s {service} UP dans HAProxy")
        time.sleep(2)
    finally:
        stop.set()
        for t in threads:
            t.join(15)
    outcomes = Counter(o for _, o in results)
    ok = sum(n for o, n in outcomes.items() if o == "200")
    failed = {o: n for o, n in outcomes.items() if o != "200"}
    rep.check(
        "arrêt d'api_1 puis redémarrage progressif sous trafic",
        not failed and ok > 100,
        f"{len(results)} requêtes via la VIP, {ok} OK, échecs : {failed or 'aucun'} ; "
        + " ; ".join(timeline)
        + (f" ; exemples : {samples}" if samples else ""),
    )
    r.report.check(
        "healthcheck.sh signale api_1 arrêté",
        bool(state.get("healthcheck_api_1_down")),
        "code 1 et ligne ÉCHEC « api_1 /health » pendant l'arrêt",
    )
    states = r.lb_states()
    rep.check("répartiteur après redémarrage", states == {"api_1": "UP", "api_2": "UP"}, str(states))


# ------------------------------------------------------------------------------------------------
def worker_kill_during_broadcast(
    r: Rehearsal, c: Client, available: set[tuple[str, str]], state: dict[str, Any]
) -> None:
    """worker_2 (files normal, low_priority, où tourne la diffusion) est tué (SIGKILL) pendant une diffusion
    à tous ; relancé, chaque appareil ciblé reçoit sa notification (acks tardifs : rien n'est perdu)."""
    if state.get("admin") and ("GET", f"{API}/notifications/{{notification_id}}") in available:
        broadcast_with_worker_kill(r, c, state)
    else:
        r.report.skipped(
            "diffusion pendant l'arrêt de worker_2", "pas de diffusion possible : test sur un lot de tâches"
        )
        echo_batch_with_worker_kill(r)


def broadcast_with_worker_kill(r: Rehearsal, c: Client, state: dict[str, Any]) -> None:

    rep = r.report
    devices = 20_000
    make = (
        "import asyncio, hashlib, uuid\n"
        "from sqlalchemy import insert\n"
        "from samaconso.identity.models import Device, Role, User\n"
        "from samaconso.kit.db import Database\n"
        "from samaconso.settings import get_settings\n"
        "async def main():\n"
        "    db = Database(get_settings())\n"
        "    users = [dict(id=uuid.uuid4(), role=Role.customer, phone=f'+22176{i:07d}', first_name='Client',\n"
        "                  last_name=str(i)) for i in range(N)]\n"
        "    devs = [dict(id=uuid.uuid4(), user_id=u['id'], device_id=f'rehearsal-{i}', fcm_token=f'rehearsal-token-{i}',\n"
        "                 fcm_token_hash=hashlib.sha256(f'rehearsal-token-{i}'.encode()).hexdigest(), platform='android')\n"
        "            for i, u in enumerate(users)]\n"
        "    async with db.sessionmaker() as s:\n"
        "        for k in range(0, N, 500):\n"
        "            await s.execute(insert(User), users[k:k + 500])\n"
        "            await s.execute(insert(Device), devs[k:k + 500])\n"
        "        await s.commit()\n"
        "    await db.dispose()\n"
        f"N = {devices}\n"
        "asyncio.run(main())\n"
    )
    env = r.app_environment("api", "rehearsal-data")
    res = run(
        ns_argv(r.ns["api"], [str(VENV_BIN / "python"), "-c", make], user=APP_USER),
        env=env,
        timeout=300,
        check=False,
        cwd=r.tmp / "api",
    )
    if not rep.check(
        "diffusion : 20 000 clients avec un appareil chacun",
        res.returncode == 0,
        "insérés en base" if res.returncode == 0 else (res.stderr or res.stdout)[-300:],
    ):
        return
    admin = state["admin"]
    res = post_broadcast(
        c,
        admin,
        ("Coupure programmée", "Planned outage"),
        ("Répétition : diffusion pendant l'arrêt d'un worker", "Rehearsal: broadcast during a worker kill"),
    )
    if not rep.check(
        "diffusion à tous (20 000 appareils)", res.status_code == 202, f"{res.status_code} {res.text[:200]}"
    ):
        return
    nid = res.json()["id"]
    t0 = time.monotonic()
    stats: dict[str, Any] = {}
    while time.monotonic() - t0 < 20:  # tuer worker_2 au milieu de l'envoi
        stats = c.request("GET", f"{API}/notifications/{nid}", admin).json()
        if stats.get("sent", 0) > 0:
            break
        time.sleep(0.05)
    before = dict(stats)
    r.procs["worker_2"].stop(sig=signal.SIGKILL, timeout=5)
    killed = f"tué à {time.monotonic() - t0:.1f}s (envoyés {before.get('sent')}, en attente {before.get('pending')})"
    time.sleep(2)
    r.start_worker("worker_2")
    stats = wait_broadcast_done(c, admin, nid, devices, 300)
    pushes = r.tmp / "workers" / "data" / "outbox" / "push.jsonl"
    tokens: set[str] = set()
    lines = torn = 0
    if pushes.exists():
        for line in pushes.read_text(encoding="utf-8").splitlines():
            if nid in line:
                lines += 1
                try:
                    rec = json.loads(line)
                except ValueError:
                    # Ligne coupée par le SIGKILL du worker (écriture interrompue, l'envoi est rejoué).
                    torn += 1
                    continue
                tokens.add(str((rec.get("message") or rec).get("token")))
    targeted = stats.get("targeted_devices", 0)
    delivered = stats.get("sent", 0) + stats.get("failed", 0) + stats.get("dead_tokens", 0)
    during = 0 < before.get("sent", 0) < devices  # le worker a bien été tué au milieu de la diffusion
    ok = (
        during
        and bool(stats.get("fanout_complete"))
        and stats.get("pending") == 0
        and targeted >= devices
        and delivered == targeted
        and len(tokens) == targeted
    )
    rep.check(
        "worker_2 tué (SIGKILL) pendant la diffusion : rien de perdu",
        ok,
        f"worker_2 {killed} ; après relance : ciblés {targeted}, envoyés {stats.get('sent')}, échecs "
        f"{stats.get('failed')}, en attente {stats.get('pending')} ; outbox push : {len(tokens)} appareils "
        f"distincts, {lines} envois ({lines - len(tokens)} doublons, livraison « au moins une fois »)"
        + (f" ; {torn} ligne(s) coupée(s) par le SIGKILL" if torn else ""),
    )


def echo_batch_with_worker_kill(r: Rehearsal) -> None:

    rep = r.report
    total = 1500
    batch = f"rehearsal-{uuid.uuid4().hex[:8]}"
    script = (
        "import json,sys\n"
        "from samaconso.worker import celery_app\n"
        f"ids=[celery_app.send_task('samaconso.system.echo_low', args=[{{'batch': {batch!r}, 'i': i}}]).id for i in range({total})]\n"
        "print(json.dumps(ids))\n"
    )
    env = r.app_environment("api", "rehearsal-publisher")
    pub = run(
        ns_argv(r.ns["api"], [str(Path(env["PATH"].split(":")[0]) / "python"), "-c", script], user=APP_USER),
        env=env,
        timeout=300,
        cwd=r.tmp / "api",
    )
    ids = json.loads(pub.stdout.strip().splitlines()[-1])
    time.sleep(1.5)
    done_before = count_results(r, ids)
    r.procs["worker_2"].stop(sig=signal.SIGKILL, timeout=5)
    time.sleep(2)
    r.start_worker("worker_2")
    deadline = time.monotonic() + 240
    done = 0
    while time.monotonic() < deadline:
        done = count_results(r, ids)
        if done >= total:
            break
        time.sleep(2)
    rep.check(
        "worker_2 tué (SIGKILL) pendant un lot low_priority : rien de perdu",
        done == total,
        f"{total} tâches publiées, {done_before} faites avant l'arrêt, {done}/{total} faites après relance",
    )


def count_results(r: Rehearsal, ids: list[str]) -> int:
    import subprocess

    pw = r.read_secret("redis_password")
    keys = "\n".join(f"GET celery-task-meta-{i}" for i in ids)
    res = subprocess.run(
        ["ip", "netns", "exec", r.ns["workers"], "redis-cli", "-h", "127.0.0.1", "-n", "1"],
        input=keys,
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], "REDISCLI_AUTH": pw},
        timeout=60,
    )
    return sum(1 for line in res.stdout.splitlines() if '"SUCCESS"' in line)


# ------------------------------------------------------------------------------------------------
def backup_and_restore(r: Rehearsal) -> None:

    rep = r.report
    cfg = parse_env_file(DEPLOY / "server1-data" / "backup" / "backup.env.example")
    backups = r.tmp / "data" / "backups"
    textfile = r.tmp / "data" / "node-exporter"
    for d in (backups, textfile):
        d.mkdir(parents=True, exist_ok=True)
        run(["chown", "postgres:postgres", str(d)])

    env = {
        **base_env(),
        **cfg,
        "BACKUP_DIR": str(backups),
        "S3_CREDENTIALS_FILE": str(r.s3_creds),
        "S3_PROVIDER": "Other",
        "PGHOST": str(r.tmp / "data" / "pg" / "run"),
        "NODE_EXPORTER_TEXTFILE_DIR": str(textfile),
        "HOME": str(backups),
    }
    res = run(
        ns_argv(
            r.ns["data"],
            ["bash", str(DEPLOY / "server1-data" / "backup" / "samaconso-backup.sh")],
            user="postgres",
        ),
        env=env,
        timeout=600,
        check=False,
        cwd=Path("/"),  # as cron runs it; postgres may not enter the checkout (a 0700 mktemp -d)
    )
    print(res.stdout.rstrip())
    if not rep.check(
        "sauvegarde de la nuit (samaconso-backup.sh)",
        res.returncode == 0,
        (res.stdout.strip().splitlines() or [""])[-1] if res.returncode == 0 else res.stderr[-400:],
    ):
        return
    latest = (backups / "postgresql" / "latest.dump").resolve()
    counts = Path(f"{latest}.counts").read_text().splitlines()
    objects = Path(f"{latest}.objects").read_text().strip()
    nonzero = [ln for ln in counts if not ln.endswith(" 0")]
    res = run(
        ns_argv(
            r.ns["data"],
            [
                "bash",
                str(DEPLOY / "server1-data" / "backup" / "samaconso-restore.sh"),
                "latest",
                "samaconso_restore",
            ],
            user="postgres",
        ),
        env=env,
        timeout=600,
        check=False,
    )
    print(res.stdout.rstrip())
    rep.check(
        "restauration dans une base neuve (samaconso-restore.sh)",
        res.returncode == 0,
        f"{len(counts)} tables, {len(nonzero)} non vides ({', '.join(nonzero[:6])}…) ; nombres de lignes "
        + ("identiques" if res.returncode == 0 else f"ÉCHEC (code {res.returncode}) : {res.stderr[-600:]}")
        + f" ; {objects} objet(s) S3 copiés",
    )
    live = r.psql("SELECT count(*) FROM pg_stat_user_tables", db="samaconso")
    restored = r.psql("SELECT count(*) FROM pg_stat_user_tables", db="samaconso_restore")
    rep.check(
        "base restaurée : mêmes tables que la base en service", live == restored, f"{live} / {restored}"
    )
