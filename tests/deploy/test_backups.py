"""Backups configuration as the runbook installs it (the drill itself is deploy/rehearsal/backups.py,
run by `make rehearsal` / `make rehearsal-backups`: it needs root and network namespaces)."""

from __future__ import annotations

import configparser
import json
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def pgbackrest_conf(path: Path) -> configparser.ConfigParser:
    # pgBackRest repeats hash options (tls-server-auth): keep the last, enough for these checks.
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.read_string(path.read_text())
    return parser


def test_wal_archiving_bounds_the_data_loss_to_five_minutes() -> None:
    conf = (DEPLOY / "server1-data" / "postgresql" / "archiving.conf").read_text()
    settings = dict(re.findall(r"^(\w+) = (.+)$", conf, re.M))
    assert settings["archive_mode"] == "on"
    assert "pgbackrest --stanza=samaconso archive-push %p" in settings["archive_command"]
    assert 0 < int(settings["archive_timeout"]) <= 300


def test_the_repository_is_on_the_backup_host_not_on_server_1() -> None:
    pg1 = pgbackrest_conf(DEPLOY / "server1-data" / "pgbackrest" / "pgbackrest.conf")
    backup = pgbackrest_conf(DEPLOY / "backup-host" / "pgbackrest.conf")
    assert pg1["global"]["repo1-host"] == "backup.samaconso.internal"
    assert pg1["global"]["repo1-host-type"] == "tls"
    assert pg1["global"]["repo1-path"] == backup["global"]["repo1-path"]
    assert "repo1-host" not in backup["global"]
    assert backup["samaconso"]["pg1-host"] == "pg1.samaconso.internal"
    # Only the backup host's certificate may talk to server 1's TLS server.
    assert pg1["global"]["tls-server-auth"] == "samaconso-backup=samaconso"


def test_the_backup_s3_account_can_only_list_and_read() -> None:
    policy = json.loads((DEPLOY / "server1-data" / "minio" / "samaconso-backup-policy.json").read_text())
    actions = {a for st in policy["Statement"] for a in st["Action"]}
    assert actions == {"s3:GetBucketLocation", "s3:ListBucket", "s3:GetObject"}
    mirror = (DEPLOY / "backup-host" / "samaconso-s3-mirror.sh").read_text()
    assert "MINIO_ROOT" not in mirror


def test_the_backup_metric_is_written_readable_whatever_the_umask(tmp_path: Path) -> None:
    fake = tmp_path / "pgbackrest"
    info = [
        {
            "status": {"code": 0},
            "backup": [{"type": "full", "timestamp": {"stop": 1700000000}}],
            "archive": [{"max": "000000010000000000000005"}],
        }
    ]
    fake.write_text(f"#!/bin/sh\ncat <<'J'\n{json.dumps(info)}\nJ\n")
    fake.chmod(0o755)
    textfile = tmp_path / "textfile"
    textfile.mkdir()
    script = DEPLOY / "backup-host" / "samaconso-backup-metrics.sh"
    res = subprocess.run(
        ["bash", "-c", f"umask 077; exec bash {script}"],
        env={"PATH": "/usr/bin:/bin", "PGBACKREST": str(fake), "NODE_EXPORTER_TEXTFILE_DIR": str(textfile)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    prom = textfile / "samaconso_backup.prom"
    assert prom.stat().st_mode & 0o777 == 0o644
    text = prom.read_text()
    assert 'samaconso_backup_last_success_timestamp_seconds{type="full"} 1700000000' in text
    assert "samaconso_backup_info_ok 1" in text
    assert [p.name for p in textfile.iterdir()] == ["samaconso_backup.prom"]
