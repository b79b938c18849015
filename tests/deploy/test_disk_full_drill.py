"""The runbook's "pg_wal full on server 1" drill runs for real (deploy/rehearsal/disk_full.py): a
PostgreSQL 15 whose pg_wal sits on a fixed-size tmpfs, archiving failing, filled until PANIC; the
reserve file freed, the server restarted (crash recovery), no committed row lost, archiving
restored and pg_wal shrunk."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.tools import require_root, require_tool

DRILL = Path(__file__).resolve().parents[2] / "deploy" / "rehearsal" / "disk_full.py"


def test_pg_wal_full_drill_recovers_without_losing_a_committed_row() -> None:
    require_root("the drill mounts a tmpfs and runs PostgreSQL as the postgres account")
    require_tool("runuser", "the drill runs PostgreSQL as the postgres account")
    if not Path("/usr/lib/postgresql/15/bin/postgres").exists():
        require_tool("postgresql-15", "the drill needs PostgreSQL 15's binaries")
    res = subprocess.run([sys.executable, str(DRILL)], capture_output=True, text=True, timeout=600)
    out = res.stdout
    assert res.returncode == 0, out + res.stderr
    assert "PANIC : True" in out
    assert "PostgreSQL arrêté" in out
    assert "récupération automatique au journal : True" in out
    assert "aucune perdue" in out
    assert "résultat : réussi" in out
