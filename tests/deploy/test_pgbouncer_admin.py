"""The runbook's PgBouncer admin path, on a real PgBouncer started with the repository's
``pgbouncer.ini`` and ``pgbouncer_hba.conf`` (only file paths and the port changed): the ``postgres``
system account gets ``SHOW POOLS`` over the unix socket within 5 s; any other account, or the same
name over TCP, is refused."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from samaconso.embedded.procs import ManagedProcess, port_open, wait_for
from tests.support import env
from tests.support.services import free_port_block
from tests.support.tools import require_root, require_tool

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "server1-data" / "pgbouncer"


@pytest.fixture
def bouncer() -> Iterator[tuple[Path, int]]:
    exe = require_tool("pgbouncer", "the admin-console check runs a real PgBouncer")
    require_root("PgBouncer runs as the postgres system account, the console is tried as two accounts")
    port = free_port_block(1, 19000, 20000)
    work = env.TMP / f"pgbouncer-admin-{uuid.uuid4().hex[:8]}"  # the postgres account must reach it
    work.mkdir(parents=True)
    os.chmod(env.TMP, 0o755)
    shutil.copy(DEPLOY / "pgbouncer_hba.conf", work / "pgbouncer_hba.conf")
    # the script runs as postgres, who may not reach the checkout (a clone in a 0700 `mktemp -d`)
    shutil.copy(DEPLOY / "generate-userlist.sh", work / "generate-userlist.sh")
    subprocess.run(["chown", "postgres", str(work)], check=True)
    listed = subprocess.run(  # the repository's script: here with no SCRAM role, the admin line only
        [
            "runuser",
            "-u",
            "postgres",
            "--",
            "bash",
            str(work / "generate-userlist.sh"),
            str(work / "userlist.txt"),
        ],
        env={**os.environ, "PGBOUNCER_ROLES": "", "PGHOST": "127.0.0.1", "PGUSER": "postgres"},
        capture_output=True,
        text=True,
        cwd="/",
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert (work / "userlist.txt").read_text() == '"postgres" ""\n'
    ini = (DEPLOY / "pgbouncer.ini").read_text()
    changes = {
        "listen_addr": "127.0.0.1",
        "listen_port": str(port),
        "unix_socket_dir": str(work),
        "auth_file": str(work / "userlist.txt"),
        "auth_hba_file": str(work / "pgbouncer_hba.conf"),
        "logfile": str(work / "pgbouncer.log"),
        "pidfile": str(work / "pgbouncer.pid"),
    }
    for key, value in changes.items():
        ini, n = re.subn(rf"^{key} = .*$", f"{key} = {value}", ini, flags=re.M)
        assert n == 1, key
    (work / "pgbouncer.ini").write_text(ini)
    subprocess.run(["chown", "-R", "postgres", str(work)], check=True)
    proc = ManagedProcess(
        "pgbouncer-admin", [exe, "-u", "postgres", str(work / "pgbouncer.ini")], work / "stdout.log"
    ).start()
    try:
        wait_for(lambda: port_open("127.0.0.1", port), 20, "PgBouncer", proc)
        yield work, port
    finally:
        proc.stop(timeout_s=5)


def console(as_user: str, host: str, port: int) -> tuple[subprocess.CompletedProcess[str], float]:
    psql = require_tool("psql", "the runbook's command is psql")
    argv = ["runuser", "-u", as_user, "--", psql, "-X", "-A", "-t", "-h", host, "-p", str(port)]
    argv += ["-U", "postgres", "-w", "pgbouncer", "-c", "SHOW POOLS"]
    started = time.monotonic()
    res = subprocess.run(argv, capture_output=True, text=True, timeout=15, cwd="/")
    return res, time.monotonic() - started


def test_show_pools_answers_the_postgres_account_over_the_socket_within_5_s(
    bouncer: tuple[Path, int],
) -> None:
    socket_dir, port = bouncer
    res, elapsed = console("postgres", str(socket_dir), port)
    assert res.returncode == 0, res.stderr
    assert elapsed < 5
    assert "pgbouncer|pgbouncer" in res.stdout  # the admin console's own pool row


def test_the_admin_console_refuses_other_accounts_and_tcp(bouncer: tuple[Path, int]) -> None:
    socket_dir, port = bouncer
    other, _ = console("nobody", str(socket_dir), port)
    assert other.returncode != 0
    over_tcp, _ = console("postgres", "127.0.0.1", port)
    assert over_tcp.returncode != 0
