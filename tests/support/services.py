"""Processes the tests start themselves: SeaweedFS (S3) and PgBouncer."""

from __future__ import annotations

import os
import random
import socket
import subprocess
from pathlib import Path

from samaconso.embedded.procs import ManagedProcess, port_open, wait_for
from samaconso.embedded.services import start_seaweedfs


def free_port_block(size: int, start: int = 21000, stop: int = 40000) -> int:
    """A base port such that base..base+size-1 are all free on loopback. Drawn from the system's
    randomness: pytest-randomly reseeds ``random`` before each test, so two runs with the same seed
    (a replayed order, another worktree) would otherwise try the same ports."""
    draw = random.SystemRandom()
    for _ in range(200):
        base = draw.randrange(start, stop - size)
        if all(_port_free(base + i) for i in range(size)) and _port_free(base + 10000):
            return base
    raise RuntimeError("no free port block")


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def start_s3(tmp: Path, access_key: str, secret_key: str) -> tuple[ManagedProcess, str]:
    base = free_port_block(5)
    proc = start_seaweedfs(tmp / "s3", base, tmp / "s3.log", access_key, secret_key)
    return proc, f"http://127.0.0.1:{base}"


# PgBouncer >= 1.21 built by scripts/build-pgbouncer.sh (make test): Debian 12's is 1.18
TRACKING_PGBOUNCER = "/opt/samaconso-tools/pgbouncer/bin/pgbouncer"


def start_pgbouncer(
    tmp: Path,
    *,
    pg_port: int = 5432,
    pool_mode: str = "transaction",
    exe: str = "/usr/sbin/pgbouncer",
    max_prepared_statements: int | None = None,
) -> tuple[ManagedProcess, int]:
    """PgBouncer in front of the local PostgreSQL, trust auth, as the ``postgres`` system user;
    ``max_prepared_statements``: only for a PgBouncer >= 1.21 (``exe=TRACKING_PGBOUNCER``)."""
    if not os.path.exists(exe):
        raise RuntimeError(f"{exe} is not installed (make test installs it)")
    port = free_port_block(1, 16000, 19000)
    workdir = tmp / f"pgbouncer-{port}"
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "userlist.txt").write_text('"postgres" ""\n')
    (workdir / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host=127.0.0.1 port={pg_port}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\n"
        f"unix_socket_dir = {workdir}\n"
        "auth_type = trust\n"
        f"auth_file = {workdir / 'userlist.txt'}\n"
        f"pool_mode = {pool_mode}\n"
        "default_pool_size = 5\nmax_client_conn = 500\n"
        "ignore_startup_parameters = extra_float_digits,options,application_name\n"
        f"logfile = {workdir / 'pgbouncer.log'}\n"
        f"pidfile = {workdir / 'pgbouncer.pid'}\n"
        "admin_users = postgres\n"
        + (f"max_prepared_statements = {max_prepared_statements}\n" if max_prepared_statements else "")
    )
    argv = [exe, str(workdir / "pgbouncer.ini")]
    if os.geteuid() == 0:
        subprocess.run(["chown", "-R", "postgres", str(workdir)], check=True)
        os.chmod(tmp, 0o755)
        argv = [exe, "-u", "postgres", str(workdir / "pgbouncer.ini")]
    proc = ManagedProcess("pgbouncer", argv, log_path=workdir / "stdout.log").start()
    wait_for(lambda: port_open("127.0.0.1", port), 20, "PgBouncer", proc)
    return proc, port
