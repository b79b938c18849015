"""Local sinks for messages that would leave the system in production (SMS, push).

In the embedded profile nothing is sent anywhere: each message is appended as one JSON line to
``.samaconso/outbox/<channel>.jsonl`` and echoed on the console. ``samaconso outbox`` reads them back.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


class JsonlSink:
    def __init__(self, directory: Path, channel: str, *, echo: bool = True) -> None:
        self.path = directory / f"{channel}.jsonl"
        self.channel = channel
        self.echo = echo

    def write(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"at": datetime.now(UTC).isoformat(), **record}, ensure_ascii=False, default=str)
        # O_APPEND writes of one line are atomic enough for several processes sharing the file.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)
        if self.echo:
            print(f"[{self.channel}] {line}", file=sys.stderr, flush=True)

    def tail(self, count: int = 10) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()[-count:]
        return [json.loads(line) for line in lines if line.strip()]
