"""Répétition des sauvegardes (root, ip netns) : pgBackRest avec le dépôt HORS du serveur 1.

Trois machines (espaces de noms réseau) : ``pg1`` (serveur 1, PostgreSQL 15 avec
samaconso.conf + archiving.conf du dépôt), ``backup`` (serveur de sauvegarde, dépôt pgBackRest) et
``restore`` (un serveur neuf). Les fichiers de deploy/server1-data/pgbackrest et deploy/backup-host
servent tels quels, seuls les chemins changent. Le parcours :

1. certificats (make-pgbackrest-tls.sh), serveurs TLS pgBackRest sur pg1 et backup ;
2. stanza-create, check (archive_command → dépôt), sauvegarde complète lancée depuis backup ;
3. écritures une par une ; on retient un instant T entre deux validations ; on mesure le délai
   jusqu'à l'arrivée dans le dépôt du WAL de la dernière écriture SANS forcer de changement de segment
   (archive_timeout seul) : c'est la perte maximale (RPO) ;
4. métrique d'âge écrite par postgres (umask 077) dans le répertoire textfile root:postgres 0775,
   lue par node-exporter lancé sous l'utilisateur prometheus ;
5. restauration à T sur ``restore`` (répertoire vide), promotion, et vérification en UNE requête
   (un seul instantané) : dernier identifiant et empreinte de toutes les lignes égaux à ceux attendus
   à T ; mesure du temps de restauration (RTO).

Code de sortie 0 si tout passe ; nettoie espaces de noms, processus et répertoire temporaire.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from netns import DEPLOY, StepFailed, base_env, ns_argv, run, weed_argv

PG_BIN = Path("/usr/lib/postgresql/15/bin")
TAG = f"bkp{os.getpid() % 100000}"
ADDR = {"pg1": "10.231.0.1", "backup": "10.231.0.2", "restore": "10.231.0.3"}
NAMES = {"pg1": "pg1.samaconso.internal", "backup": "backup.samaconso.internal"}
STANZA = "samaconso"


def say(msg: str) -> None:
    print(f"[sauvegardes {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Drill:
    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix=f"samaconso-{TAG}-"))
        os.chmod(self.tmp, 0o755)
        self.ns = {role: f"{TAG}-{role}" for role in ADDR}
        self.ns["net"] = f"{TAG}-net"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.results: list[tuple[str, bool, str]] = []
        self.made_etc_netns = not Path("/etc/netns").exists()

    # ---- résultat -------------------------------------------------------------------------
    def check(self, name: str, ok: bool, detail: str) -> None:
        self.results.append((name, ok, detail))
        print(f"  {'OK ' if ok else 'ÉCHEC'} {name} — {detail}", flush=True)
        if not ok:
            raise StepFailed(name)

    # ---- réseau -----------------------------------------------------------------------------
    def network(self) -> None:
        net = self.ns["net"]
        for ns in self.ns.values():
            run(["ip", "netns", "add", ns])
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
        run(["ip", "-n", net, "link", "add", "br0", "type", "bridge"])
        run(["ip", "-n", net, "link", "set", "br0", "up"])
        hosts = "127.0.0.1 localhost\n" + "".join(f"{ADDR[r]} {n}\n" for r, n in NAMES.items())
        for role, addr in ADDR.items():
            ns = self.ns[role]
            run(
                [
                    "ip",
                    "-n",
                    net,
                    "link",
                    "add",
                    f"p-{role}",
                    "type",
                    "veth",
                    "peer",
                    "name",
                    "eth0",
                    "netns",
                    ns,
                ]
            )
            run(["ip", "-n", net, "link", "set", f"p-{role}", "master", "br0", "up"])
            run(["ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0"])
            run(["ip", "-n", ns, "link", "set", "eth0", "up"])
            path = Path("/etc/netns") / ns / "hosts"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(hosts)
            os.chmod(path, 0o644)

    # ---- fichiers de configuration ----------------------------------------------------------
    def host_dir(self, role: str) -> Path:
        d = self.tmp / role
        d.mkdir(exist_ok=True)
        return d

    def pgbackrest_conf(
        self, role: str, source: Path, data: Path, sock: Path, drop_server: bool = False
    ) -> Path:
        d = self.host_dir(role)
        text = source.read_text()
        text = text.replace("/etc/pgbackrest/tls", str(d / "tls"))
        text = text.replace("/var/lib/postgresql/15/main", str(data))
        text = text.replace("/var/run/postgresql", str(sock))
        text = text.replace("/var/log/pgbackrest", str(d / "log"))
        text = text.replace("/tmp/pgbackrest", str(d / "lock"))  # noqa: S108
        text = text.replace("/srv/pgbackrest", str(self.tmp / "backup" / "repo"))  # toujours sur backup
        if drop_server:
            text = "\n".join(line for line in text.splitlines() if not line.startswith("tls-server-")) + "\n"
        conf = d / "pgbackrest.conf"
        conf.write_text(text)
        for sub in ("log", "lock"):
            (d / sub).mkdir(exist_ok=True)
        return conf

    def pgbr(
        self, role: str, *args: str, timeout: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        conf = self.host_dir(role) / "pgbackrest.conf"
        return run(
            ns_argv(
                self.ns[role],
                ["pgbackrest", f"--config={conf}", f"--stanza={STANZA}", *args],
                user="postgres",
            ),
            env=base_env(),
            timeout=timeout,
            check=check,
        )

    def start(
        self, role: str, name: str, argv: list[str], user: str | None = "postgres"
    ) -> subprocess.Popen[bytes]:
        log = (self.tmp / f"{role}-{name}.log").open("ab")
        proc = subprocess.Popen(
            ns_argv(self.ns[role], argv, user=user), stdout=log, stderr=log, env=base_env()
        )
        self.procs.append(proc)
        return proc

    def wait(self, what: str, cond: Callable[[], bool], timeout: float) -> float:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if cond():
                return time.monotonic() - t0
            time.sleep(0.5)
        raise StepFailed(f"délai dépassé : {what}")

    def psql(self, role: str, sql: str, sock: Path, db: str = "postgres") -> str:
        res = run(
            ns_argv(
                self.ns[role],
                ["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", str(sock), "-d", db, "-c", sql],
                user="postgres",
            ),
            env=base_env(),
        )
        return res.stdout.strip()

    def pg_ready(self, role: str, sock: Path) -> bool:
        res = run(ns_argv(self.ns[role], [str(PG_BIN / "pg_isready"), "-h", str(sock)]), check=False)
        return res.returncode == 0

    # ---- le parcours ------------------------------------------------------------------------
    def run(self) -> None:
        self.network()
        # 1. certificats, configurations
        tls = self.tmp / "tls-src"
        run(
            [
                "bash",
                str(DEPLOY / "backup-host" / "make-pgbackrest-tls.sh"),
                str(tls),
                NAMES["pg1"],
                NAMES["backup"],
            ]
        )
        for role in ADDR:
            shutil.copytree(tls / ("pg1" if role == "pg1" else role), self.host_dir(role) / "tls")
        pg1 = self.host_dir("pg1")
        data1, sock1 = pg1 / "data", pg1 / "run"
        sock1.mkdir()
        self.pgbackrest_conf("pg1", DEPLOY / "server1-data" / "pgbackrest" / "pgbackrest.conf", data1, sock1)
        self.pgbackrest_conf("backup", DEPLOY / "backup-host" / "pgbackrest.conf", data1, sock1)
        rst = self.host_dir("restore")
        data3, sock3 = rst / "data", rst / "run"
        sock3.mkdir()
        self.pgbackrest_conf(
            "restore",
            DEPLOY / "server1-data" / "pgbackrest" / "pgbackrest.conf",
            data3,
            sock3,
            drop_server=True,
        )
        # Le client TLS du serveur de restauration : son propre certificat (CN=samaconso-restore).
        (self.host_dir("backup") / "repo").mkdir()
        run(["chown", "-R", "postgres:postgres", str(self.tmp)])
        for role in ADDR:
            run(["chmod", "-R", "go-rwx", str(self.host_dir(role) / "tls")])

        # 2. PostgreSQL du serveur 1 : samaconso.conf + archiving.conf du dépôt
        run(
            ns_argv(
                self.ns["pg1"],
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(data1),
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                    "--auth-local=peer",
                    "--auth-host=scram-sha-256",
                ],
                user="postgres",
            )
        )
        overrides = pg1 / "rehearsal-overrides.conf"
        overrides.write_text(
            "shared_buffers = '128MB'\neffective_cache_size = '1GB'\nmaintenance_work_mem = '64MB'\n"
            "autovacuum_work_mem = '64MB'\nwal_buffers = '4MB'\nmin_wal_size = '80MB'\nmax_wal_size = '1GB'\n"
            "wal_keep_size = '0'\nhuge_pages = 'off'\nlisten_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{sock1}'\n"
            f"archive_command = 'pgbackrest --config={pg1 / 'pgbackrest.conf'} --stanza={STANZA} archive-push %p'\n"
        )
        with (data1 / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\ninclude '{DEPLOY / 'server1-data' / 'postgresql' / 'samaconso.conf'}'\n"
                f"include '{DEPLOY / 'server1-data' / 'postgresql' / 'archiving.conf'}'\n"
                f"include '{overrides}'\n"
            )
        run(["chown", "-R", "postgres:postgres", str(pg1)])
        self.start("pg1", "postgresql", [str(PG_BIN / "postgres"), "-D", str(data1)])
        self.wait("PostgreSQL pg1", lambda: self.pg_ready("pg1", sock1), 60)
        archive_timeout = self.psql("pg1", "SHOW archive_timeout", sock1)

        # serveurs TLS pgBackRest (samaconso-pgbackrest-server.service)
        for role in ("pg1", "backup"):
            pgbr_conf = self.host_dir(role) / "pgbackrest.conf"
            self.start(role, "pgbackrest-server", ["pgbackrest", f"--config={pgbr_conf}", "server"])

        def listening(role: str) -> bool:
            probe = ["bash", "-c", f"exec 3<>/dev/tcp/{ADDR[role]}/8432"]
            return run(ns_argv(self.ns[role], probe), check=False).returncode == 0

        for role in ("pg1", "backup"):
            self.wait(f"serveur TLS pgBackRest {role}", lambda role=role: listening(role), 30)  # type: ignore[misc]

        # 3. pile, vérification, sauvegarde complète depuis le serveur de sauvegarde
        self.pgbr("backup", "stanza-create")
        self.pgbr("pg1", "check")  # archive_command du serveur 1 → dépôt distant
        self.pgbr("backup", "check")
        t0 = time.monotonic()
        self.pgbr("backup", "--type=full", "backup", timeout=600)
        full_s = time.monotonic() - t0
        repo = self.host_dir("backup") / "repo"
        wal_in_repo = len(list((repo / "archive" / STANZA).rglob("*.zst")))
        info = self.pgbr("backup", "info").stdout
        self.check(
            "sauvegarde complète hors du serveur 1",
            "full backup" in info and wal_in_repo > 0,
            f"pgbackrest backup --type=full lancé depuis backup ({full_s:.1f} s), dépôt {self.host_dir('backup') / 'repo'} ; "
            f"{wal_in_repo} WAL reçus par archive_command depuis pg1",
        )

        # 4. écritures, instant T choisi entre deux validations
        self.psql("pg1", "CREATE DATABASE samaconso", sock1)
        self.psql(
            "pg1",
            "CREATE TABLE drill (id bigint PRIMARY KEY, payload text NOT NULL, at timestamptz NOT NULL DEFAULT now())",
            sock1,
            db="samaconso",
        )

        def insert(i: int) -> None:  # une transaction validée par ligne
            sql = f"INSERT INTO drill (id, payload) VALUES ({i}, md5('{i}'))"  # noqa: S608 (entier)
            self.psql("pg1", sql, sock1, db="samaconso")

        for i in range(1, 41):
            insert(i)
        time.sleep(1.1)
        target = self.psql(
            "pg1",
            "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US+00')",
            sock1,
        )
        time.sleep(1.1)
        for i in range(41, 81):
            insert(i)
        digest_sql = (
            "SELECT max(id) || ' ' || count(*) || ' ' || md5(string_agg(id || ':' || payload, ',' ORDER BY id)) "
            "FROM drill"
        )
        expected = self.psql("pg1", digest_sql + " WHERE id <= 40", sock1, db="samaconso")
        # RPO : le WAL de la dernière validation arrive au dépôt par archive_timeout seul.
        last_wal = self.psql("pg1", "SELECT pg_walfile_name(pg_current_wal_lsn())", sock1)
        t0 = time.monotonic()

        def archived() -> bool:
            done = self.psql("pg1", "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver", sock1)
            return done >= last_wal

        rpo_s = self.wait("WAL de la dernière écriture archivé", archived, 180)
        self.check(
            "archivage continu (RPO)",
            rpo_s <= 5 * 60,
            f"archive_timeout = {archive_timeout} ; dernière écriture dans le dépôt distant après {rpo_s:.0f} s "
            f"sans pg_switch_wal (segment {last_wal})",
        )

        # 5. métrique d'âge écrite par postgres, lue par node-exporter (prometheus)
        textfile = self.host_dir("backup") / "node-exporter"
        textfile.mkdir()
        run(["chown", "root:postgres", str(textfile)])
        os.chmod(textfile, 0o775)  # samaconso-backup.tmpfiles.conf
        # umask 077 comme l'ancienne sauvegarde : le script rend lui-même son fichier lisible.
        script = f"umask 077; exec bash {DEPLOY / 'backup-host' / 'samaconso-backup-metrics.sh'}"
        res = run(
            ns_argv(self.ns["backup"], ["bash", "-c", script], user="postgres"),
            env={
                **base_env(),
                "NODE_EXPORTER_TEXTFILE_DIR": str(textfile),
                "PGBACKREST_CONFIG": str(self.host_dir("backup") / "pgbackrest.conf"),
            },
            check=False,
        )
        detail = f"code {res.returncode} {res.stderr.strip()[-300:]}"
        exporter = shutil.which("prometheus-node-exporter")
        metric_line = ""
        if exporter and res.returncode == 0:
            self.start(
                "backup",
                "node-exporter",
                [
                    exporter,
                    "--web.listen-address=127.0.0.1:19100",
                    f"--collector.textfile.directory={textfile}",
                    "--collector.disable-defaults",
                    "--collector.textfile",
                ],
                user="prometheus",
            )

            def scraped() -> bool:
                nonlocal metric_line
                out = run(
                    ns_argv(
                        self.ns["backup"],
                        ["curl", "-sS", "--max-time", "2", "http://127.0.0.1:19100/metrics"],
                    ),
                    check=False,
                ).stdout
                m = re.search(
                    r'^samaconso_backup_last_success_timestamp_seconds\{type="full"\} (\S+)$', out, re.M
                )
                errs = re.search(r"^node_textfile_scrape_error (\S+)$", out, re.M)
                metric_line = m.group(0) if m else ""
                return m is not None and errs is not None and float(errs.group(1)) == 0

            with contextlib.suppress(StepFailed):
                self.wait("node-exporter lit la métrique", scraped, 20)
        age = time.time() - float(metric_line.split()[-1]) if metric_line else -1
        self.check(
            "âge de la sauvegarde vu par node-exporter",
            res.returncode == 0 and bool(metric_line) and 0 <= age < 3600,
            f"samaconso-backup-metrics.sh sous postgres (umask 077) → textfile root:postgres 0775 ; "
            f"node-exporter sous prometheus : {metric_line or 'absente'} (âge {age:.0f} s) ; {detail}",
        )

        self.s3_mirror()

        # 6. restauration à T sur un serveur neuf, vérification en un seul instantané
        t0 = time.monotonic()
        data3.mkdir(mode=0o700)
        run(["chown", "postgres:postgres", str(data3)])
        self.pgbr(
            "restore", "--type=time", f"--target={target}", "--target-action=promote", "restore", timeout=600
        )
        with (data3 / "postgresql.auto.conf").open("a") as conf:
            conf.write(f"unix_socket_directories = '{sock3}'\narchive_mode = 'off'\n")
        # Le serveur neuf de l'exercice n'archive pas dans le dépôt du serveur 1 en service (après une
        # vraie perte du serveur 1, on réactive l'archivage : nouvelle chronologie, même dépôt).
        run(["chown", "-R", "postgres:postgres", str(data3)])
        self.start(
            "restore", "postgresql", [str(PG_BIN / "postgres"), "-D", str(data3), "-c", "archive_mode=off"]
        )
        self.wait("PostgreSQL restauré", lambda: self.pg_ready("restore", sock3), 120)
        self.wait(
            "promotion après la cible",
            lambda: self.psql("restore", "SELECT pg_is_in_recovery()", sock3) == "f",
            120,
        )
        got = self.psql("restore", digest_sql, sock3, db="samaconso")
        rto_s = time.monotonic() - t0
        self.check(
            "restauration à un instant choisi (PITR) sur un serveur neuf",
            got == expected,
            f"cible {target} ; une requête sur le serveur restauré : « {got} » (attendu « {expected} » : "
            f"les 40 lignes validées avant T, aucune des 40 d'après) ; RTO mesuré {rto_s:.1f} s",
        )

    # ---- stockage objet : miroir hors serveur 1 avec le compte de sauvegarde en lecture seule ----
    def s3_mirror(self) -> None:
        import json
        import secrets

        pg1 = self.host_dir("pg1")
        s3dir = pg1 / "s3"
        s3dir.mkdir()
        admin_key, admin_secret = "samaconso-admin", secrets.token_urlsafe(24)
        backup_key, backup_secret = "samaconso-backup", secrets.token_urlsafe(24)
        buckets = ["avatars", "documents"]
        # La politique MinIO du dépôt (samaconso-backup-policy.json) traduite en droits SeaweedFS :
        # s3:ListBucket → List, s3:GetObject → Read, sur ces compartiments seulement.
        policy = json.loads((DEPLOY / "server1-data" / "minio" / "samaconso-backup-policy.json").read_text())
        granted = {a for st in policy["Statement"] for a in st["Action"]}
        if granted - {"s3:GetBucketLocation", "s3:ListBucket", "s3:GetObject"}:
            raise StepFailed(f"politique de sauvegarde trop large : {sorted(granted)}")
        actions = [f"{kind}:{b}" for b in buckets for kind in ("Read", "List")]
        cfg = {
            "identities": [
                {
                    "name": "admin",
                    "credentials": [{"accessKey": admin_key, "secretKey": admin_secret}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                },
                {
                    "name": "backup",
                    "credentials": [{"accessKey": backup_key, "secretKey": backup_secret}],
                    "actions": actions,
                },
            ]
        }
        (s3dir / "s3.json").write_text(json.dumps(cfg))
        self.start("pg1", "s3", weed_argv(s3dir, ADDR["pg1"], s3dir / "s3.json"), user=None)
        admin_env = self.host_dir("pg1") / "s3-admin.env"
        admin_env.write_text(f"S3_ACCESS_KEY={admin_key}\nS3_SECRET_KEY={admin_secret}\n")
        backup_env = self.host_dir("backup") / "backup-s3.env"
        backup_env.write_text(f"S3_ACCESS_KEY={backup_key}\nS3_SECRET_KEY={backup_secret}\n")
        for f in (admin_env, backup_env):
            os.chmod(f, 0o600)
        run(["chown", "postgres:postgres", str(backup_env)])

        def rclone_env(creds: Path, remote: str) -> dict[str, str]:
            values = dict(line.split("=", 1) for line in creds.read_text().split())
            p = f"RCLONE_CONFIG_{remote}_"
            return {
                **base_env(),
                p + "TYPE": "s3",
                p + "PROVIDER": "Other",
                p + "ENV_AUTH": "false",
                p + "ENDPOINT": f"http://{ADDR['pg1']}:9000",
                p + "ACCESS_KEY_ID": values["S3_ACCESS_KEY"],
                p + "SECRET_ACCESS_KEY": values["S3_SECRET_KEY"],
                p + "REGION": "us-east-1",
            }

        aenv = rclone_env(admin_env, "SC")

        def ready() -> bool:
            res = run(
                ns_argv(self.ns["pg1"], ["rclone", "mkdir", "sc:avatars"]), env=aenv, check=False, timeout=20
            )
            return res.returncode == 0

        self.wait("S3 du serveur 1", ready, 120)
        run(ns_argv(self.ns["pg1"], ["rclone", "mkdir", "sc:documents"]), env=aenv)
        src = pg1 / "objects"
        src.mkdir()
        for i in range(3):
            (src / f"doc{i}.pdf").write_bytes(secrets.token_bytes(2048 + i))
        run(ns_argv(self.ns["pg1"], ["rclone", "copy", str(src), "sc:documents"]), env=aenv)
        run(
            ns_argv(self.ns["pg1"], ["rclone", "copyto", str(src / "doc0.pdf"), "sc:avatars/a.png"]), env=aenv
        )
        mirror = self.host_dir("backup") / "s3-mirror"
        mirror.mkdir()
        textfile = self.host_dir("backup") / "node-exporter"
        run(["chown", "postgres:postgres", str(mirror)])
        env = {
            **base_env(),
            "S3_CREDENTIALS_FILE": str(backup_env),
            "S3_ENDPOINT": f"http://{ADDR['pg1']}:9000",
            "S3_PROVIDER": "Other",
            "MIRROR_DIR": str(mirror),
            "HOME": str(mirror),
            "NODE_EXPORTER_TEXTFILE_DIR": str(textfile),
        }
        script = ["bash", str(DEPLOY / "backup-host" / "samaconso-s3-mirror.sh")]
        run(ns_argv(self.ns["backup"], script, user="postgres"), env=env)
        # Une suppression à la source : le miroir la suit, l'ancienne version reste dans history/.
        run(ns_argv(self.ns["pg1"], ["rclone", "deletefile", "sc:documents/doc1.pdf"]), env=aenv)
        run(ns_argv(self.ns["backup"], script, user="postgres"), env=env)
        same = all(
            (mirror / "current" / "documents" / f"doc{i}.pdf").read_bytes()
            == (src / f"doc{i}.pdf").read_bytes()
            for i in (0, 2)
        )
        kept = list((mirror / "history").rglob("doc1.pdf"))
        gone = not (mirror / "current" / "documents" / "doc1.pdf").exists()
        # Le compte de sauvegarde ne peut ni écrire ni supprimer.
        benv = rclone_env(backup_env, "SC")
        put = run(
            ns_argv(
                self.ns["backup"],
                [
                    "rclone",
                    "copyto",
                    str(src / "doc0.pdf"),
                    "sc:documents/intrus.pdf",
                    "--retries",
                    "1",
                    "--low-level-retries",
                    "1",
                ],
            ),
            env=benv,
            check=False,
            timeout=60,
        )
        delete = run(
            ns_argv(
                self.ns["backup"],
                [
                    "rclone",
                    "deletefile",
                    "sc:documents/doc0.pdf",
                    "--retries",
                    "1",
                    "--low-level-retries",
                    "1",
                ],
            ),
            env=benv,
            check=False,
            timeout=60,
        )
        still = run(ns_argv(self.ns["pg1"], ["rclone", "lsf", "sc:documents"]), env=aenv).stdout.split()
        self.check(
            "stockage objet : miroir hors serveur 1, compte de sauvegarde en lecture seule",
            same
            and bool(kept)
            and gone
            and put.returncode != 0
            and delete.returncode != 0
            and "intrus.pdf" not in still
            and "doc0.pdf" in still,
            f"samaconso-s3-mirror.sh sur backup avec samaconso-backup (List/Read seulement) : objets identiques, "
            f"suppression à la source gardée dans history/ ({len(kept)}) ; écriture refusée (code {put.returncode}), "
            f"suppression refusée (code {delete.returncode})",
        )

    # ---- nettoyage --------------------------------------------------------------------------
    def cleanup(self) -> None:
        say("nettoyage : processus, espaces de noms, répertoire temporaire")
        for proc in reversed(self.procs):
            with contextlib.suppress(Exception):
                proc.terminate()
                proc.wait(timeout=20)
            with contextlib.suppress(Exception):
                proc.kill()
        for ns in self.ns.values():
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
        time.sleep(0.5)
        for ns in self.ns.values():
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
            shutil.rmtree(Path("/etc/netns") / ns, ignore_errors=True)
        if self.made_etc_netns:
            with contextlib.suppress(OSError):
                Path("/etc/netns").rmdir()
        if os.environ.get("REHEARSAL_KEEP_TMP"):
            say(f"répertoire conservé : {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def main() -> int:
    # Every command below runs from / as cron and systemd would: the postgres account may not enter
    # the checkout (a clone in a 0700 `mktemp -d`), and find/psql fail in a working directory they
    # cannot reach. The paths used here are absolute.
    os.chdir("/")
    missing = [
        x for x in ("ip", "pgbackrest", "openssl", "psql", "curl", "setpriv") if shutil.which(x) is None
    ]
    if os.geteuid() != 0:
        missing.append("root")
    if missing:
        print("répétition des sauvegardes impossible, manquent : " + ", ".join(missing), file=sys.stderr)
        print("installer : apt-get install pgbackrest prometheus-node-exporter", file=sys.stderr)
        return 2
    d = Drill()

    def interrupted(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupted)
    ok = False
    try:
        d.run()
        ok = True
    except (StepFailed, KeyboardInterrupt) as exc:
        print(f"ÉCHEC : {str(exc)[:1500]}", file=sys.stderr)
        for f in sorted(d.tmp.glob("*.log")):
            print(f"--- {f.name}\n{f.read_text(errors='replace')[-1500:]}", file=sys.stderr)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        d.cleanup()
    passed = sum(1 for _, good, _ in d.results if good)
    print(f"Sauvegardes : {passed}/{len(d.results)} vérifications réussies" + ("" if ok else " — ÉCHEC"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
