"""Exercice « disque plein sur le serveur 1 » (runbook d'astreinte, docs/runbook-astreinte.md).

Le cas le plus grave : pg_wal plein parce que l'archivage des WAL échoue (serveur de sauvegarde
injoignable : PostgreSQL garde chaque segment non archivé). Un PostgreSQL 15 jetable dont pg_wal est
sur un tmpfs de taille fixe (root : mount), archive_command en échec, une table qui grossit jusqu'à
ENOSPC, puis la procédure du runbook telle quelle :
  1. constater (journal PostgreSQL : « No space left on device », PANIC, serveur arrêté) ;
  2. libérer la réserve posée à l'installation (fichier de lest RESERVE-ENOSPC sur le même disque) ;
  3. redémarrer PostgreSQL (récupération après crash automatique) ;
  4. vérifier que toutes les transactions validées sont là (comptage) ;
  5. rétablir l'archivage (ici : archive_command qui réussit), CHECKPOINT : pg_wal se vide ;
  6. la base accepte de nouveau les écritures. Chaque étape est chronométrée.
Rien n'est laissé derrière : le serveur est arrêté, le tmpfs démonté, le dossier supprimé.

  sudo .venv/bin/python deploy/rehearsal/disk_full.py   (≈ 1 min)
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")
WAL_FS_MB = 112  # sept segments de 16 Mio
RESERVE_MB = 32


def sh(argv: list[str], *, user: str | None = "postgres", check: bool = True, timeout: float = 120) -> str:
    if user:
        argv = ["runuser", "-u", user, "--", *argv]
    res = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd="/")
    if check and res.returncode != 0:
        raise RuntimeError(f"{argv[3:] if user else argv}: {res.stderr.strip() or res.stdout.strip()}")
    return res.stdout + res.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    if os.geteuid() != 0:
        print("à lancer en root (mount d'un tmpfs, compte postgres)", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="samaconso-disk-full-"))
    os.chmod(root, 0o755)
    mnt, sock = root / "pg_wal-fs", root / "run"
    mnt.mkdir()
    sock.mkdir()
    port = free_port()
    data = root / "main"
    log = root / "postgresql.log"
    psql = [str(PG_BIN / "psql"), "-X", "-A", "-t", "-h", str(sock), "-p", str(port), "-d", "postgres"]
    steps: list[tuple[str, str]] = []
    ok = False
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={WAL_FS_MB}m,mode=0755", "tmpfs", str(mnt)], check=True
    )
    try:
        subprocess.run(["chown", "-R", "postgres:postgres", str(root)], check=True)
        sh([str(PG_BIN / "initdb"), "-D", str(data), "-X", str(mnt / "wal"), "-A", "trust", "-U", "postgres"])
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {port}\nunix_socket_directories = '{sock}'\nlisten_addresses = ''\n"
                "min_wal_size = 32MB\nmax_wal_size = 48MB\nshared_buffers = 16MB\nfsync = on\n"
                "archive_mode = on\narchive_command = 'false'\nrestart_after_crash = on\n"
            )
        # La réserve du runbook : un fichier de lest sur le même système de fichiers que pg_wal.
        sh(["fallocate", "-l", f"{RESERVE_MB}M", str(mnt / "RESERVE-ENOSPC")])
        pg_ctl = [str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60"]
        sh([*pg_ctl, "start"])
        sh([*psql, "-c", "CREATE TABLE releves (id bigserial PRIMARY KEY, payload text NOT NULL)"])

        committed = 0
        started = time.monotonic()
        failure = ""
        while time.monotonic() - started < 300:
            res = subprocess.run(
                ["runuser", "-u", "postgres", "--", *psql, "-c",
                 "INSERT INTO releves (payload) SELECT repeat(md5(g::text), 64) FROM generate_series(1, 2000) g"],
                capture_output=True, text=True, timeout=120, cwd="/",
            )  # fmt: skip
            if res.returncode != 0:
                failure = (
                    res.stderr.strip().splitlines()[-1] if res.stderr.strip() else f"code {res.returncode}"
                )
                break
            committed += 2000
        fill_s = time.monotonic() - started
        time.sleep(3)  # le postmaster tente une réinitialisation après le PANIC
        df = shutil.disk_usage(mnt)
        alive = subprocess.run(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_isready"), "-h", str(sock), "-p", str(port)],
            capture_output=True, text=True, cwd="/",
        ).returncode == 0  # fmt: skip
        log_text = log.read_text(errors="replace")
        panic = "PANIC" in log_text
        enospc = "No space left on device" in log_text or "No space left on device" in failure
        steps.append(
            (
                "1. disque plein constaté",
                f"{committed} lignes validées en {fill_s:.1f} s ; libre {df.free // 1024} Kio ; "
                f"erreur client : {failure[:120]!r} ; ENOSPC au journal : {enospc} ; PANIC : {panic} ; "
                f"PostgreSQL {'toujours en marche' if alive else 'arrêté'}",
            )
        )
        if not enospc:
            raise RuntimeError("le disque n'a pas été rempli : l'exercice n'a rien montré")

        t = time.monotonic()
        (mnt / "RESERVE-ENOSPC").unlink()
        steps.append(
            (
                "2. réserve libérée",
                f"rm RESERVE-ENOSPC : {RESERVE_MB} Mio libres en {time.monotonic() - t:.2f} s",
            )
        )

        t = time.monotonic()
        if alive:
            sh([*pg_ctl, "restart", "-m", "fast"])
            how = "redémarré (arrêt rapide)"
        else:
            sh([*pg_ctl, "start"])
            how = "démarré : récupération après crash"
        log_text = log.read_text(errors="replace")
        recovered = "not properly shut down" in log_text or "interrupted" in log_text
        steps.append(
            (
                "3. PostgreSQL relancé",
                f"{how} en {time.monotonic() - t:.1f} s ; récupération automatique au journal : {recovered}",
            )
        )

        count = int(sh([*psql, "-c", "SELECT count(*) FROM releves"]).strip().splitlines()[0])
        steps.append(
            (
                "4. données",
                f"{count} lignes présentes pour {committed} validées avant l'incident "
                f"({'aucune perdue' if count >= committed else 'PERTE'})",
            )
        )
        t = time.monotonic()
        before = sum(f.stat().st_size for f in (mnt / "wal").glob("0*"))
        sh([*psql, "-c", "ALTER SYSTEM SET archive_command = 'true'"])
        sh([*psql, "-c", "SELECT pg_reload_conf()"])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready = sh(
                [*psql, "-c", "SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'"]
            )
            if ready.strip().splitlines()[0] == "0":
                break
            time.sleep(0.5)
        sh([*psql, "-c", "CHECKPOINT"])
        sh([*psql, "-c", "CHECKPOINT"])
        after = sum(f.stat().st_size for f in (mnt / "wal").glob("0*"))
        steps.append(
            (
                "5. archivage rétabli",
                f"pg_wal {before // 2**20} Mio → {after // 2**20} Mio en {time.monotonic() - t:.1f} s "
                f"(segments archivés puis recyclés par le CHECKPOINT)",
            )
        )
        sh([*psql, "-c", "INSERT INTO releves (payload) VALUES ('après incident')"])
        steps.append(("6. écritures", "nouvelle écriture acceptée"))
        ok = count >= committed and after < before and panic and not alive
        sh([*pg_ctl, "stop", "-m", "fast"], check=False)
    finally:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(data), "stop", "-m", "immediate"],
            capture_output=True, cwd="/",
        )  # fmt: skip
        subprocess.run(["umount", str(mnt)], check=False)
        shutil.rmtree(root, ignore_errors=True)
    print("==================== Exercice disque plein (serveur 1) ====================")
    for name, detail in steps:
        print(f"OK  {name} — {detail}")
    print("résultat :", "réussi" if ok else "ÉCHEC")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
