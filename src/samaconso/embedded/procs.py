"""Child processes for the embedded stack and the test set-up: start, wait until ready, stop cleanly.

Each child runs in its own process group so that stopping it also stops whatever it forked
(Celery prefork children, SeaweedFS components). Nothing here is used in production.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

BIN_DIR = Path(sys.executable).parent


def port_open(host: str, port: int, timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    check: Callable[[], bool], timeout_s: float, what: str, proc: ManagedProcess | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        if proc is not None and proc.popen is not None and proc.popen.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.popen.returncode}; see {proc.where_to_look}")
        time.sleep(0.2)
    raise TimeoutError(
        f"{what} not ready after {timeout_s:.0f}s" + (f"; see {proc.where_to_look}" if proc else "")
    )


@dataclass
class ManagedProcess:
    name: str
    argv: Sequence[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    user: str | None = None
    # PostgreSQL wants SIGINT for a fast shutdown (SIGTERM waits for every client to leave).
    stop_signal: int = signal.SIGTERM
    # Linux: the child receives ``stop_signal`` when the starting thread dies (see _die_with_parent).
    die_with_parent: bool = False
    signal_group: bool = True
    popen: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None
    _inherits_output: bool = False

    def start(self, *, inherit_output: bool = False) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env}
        kwargs: dict[str, object] = {}
        if self.user and os.geteuid() == 0:
            entry = pwd.getpwnam(self.user)
            kwargs["user"] = entry.pw_uid
            kwargs["group"] = entry.pw_gid
            kwargs["extra_groups"] = []  # not root's supplementary groups
            env["HOME"] = entry.pw_dir
        self._inherits_output = inherit_output
        if inherit_output:
            out: int | IO[bytes] | None = None
        else:
            self._log = self.log_path.open("ab")
            out = self._log
        self.popen = subprocess.Popen(  # the argv is built by this module, never from user input
            list(self.argv),
            stdout=out,
            stderr=subprocess.STDOUT if out is not None else None,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=self.cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent(self.stop_signal) if self.die_with_parent else None,
            **kwargs,  # type: ignore[call-overload]
        )
        return self

    @property
    def where_to_look(self) -> str:
        """Where its output went, for an error message."""
        return "its lines above" if self._inherits_output else str(self.log_path)

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig: int | None = None) -> None:
        """Ask the child to stop (without waiting). The whole process group receives the signal,
        or only the child itself with ``signal_group=False`` (a Celery worker: its pool processes
        must finish their tasks during the warm shutdown, not die with it)."""
        if self.popen is not None and self.popen.poll() is None:
            chosen = self.stop_signal if sig is None else sig
            try:
                if self.signal_group or chosen == signal.SIGKILL:
                    os.killpg(self.popen.pid, chosen)
                else:
                    self.popen.send_signal(chosen)
            except ProcessLookupError:
                pass

    def stop(self, timeout_s: float = 15.0, sig: int | None = None) -> None:
        self.signal(sig)
        self.wait_stopped(timeout_s)

    def wait_stopped(self, timeout_s: float = 15.0) -> None:
        """Wait for a child already asked to stop (``signal``); SIGKILL it after ``timeout_s``."""
        if self.popen is None:
            return
        if self.popen.poll() is None:
            try:
                self.popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.popen.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.popen.wait(5)
        # Anything the child left in its group (forked workers) goes too.
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self._log is not None:
            self._log.close()
            self._log = None


def _die_with_parent(sig: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to signal the child when the process that started it dies.

    Without it, a ``samaconso run`` killed with SIGKILL (or a closed terminal) leaves PostgreSQL,
    Redis and S3 running in their own sessions, and the next start finds their ports taken.
    """
    libc_name = ctypes.util.find_library("c")
    if not sys.platform.startswith("linux") or libc_name is None:
        return None
    libc = ctypes.CDLL(libc_name, use_errno=True)
    pr_set_pdeathsig = 1

    def arm() -> None:
        libc.prctl(pr_set_pdeathsig, sig, 0, 0, 0)

    return arm


def ensure_system_user(name: str) -> None:
    """PostgreSQL refuses to run as root: when we are root, run it as a dedicated user."""
    if os.geteuid() != 0:
        return
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True
        )


def chown_tree(path: Path, user: str) -> None:
    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for item in dirs + files:
            os.chown(os.path.join(root, item), entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def which(name: str, *extra_dirs: Path) -> str | None:
    for directory in (BIN_DIR, *extra_dirs):
        candidate = directory / name
        if candidate.exists():
            return str(candidate)
    return shutil.which(name)
