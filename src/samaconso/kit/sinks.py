"""Local sinks for messages that would leave the system in production (SMS, push).

In the embedded profile nothing is sent anywhere: each message is appended as one JSON line to
``.samaconso/outbox/<channel>.jsonl`` and echoed on the console as one short line that stands out
from the logs (``>>> SMS to +221771234567: Votre code SamaConso : 123456``); ``samaconso outbox``
reads the files back.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from samaconso.kit.logging import use_colors

_ECHO_MAX = 200


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
            print(echo_line(self.channel, record, colors=use_colors(sys.stderr)), file=sys.stderr, flush=True)

    def tail(self, count: int = 10) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()[-count:]
        return [json.loads(line) for line in lines if line.strip()]


def _one_line(text: object) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= _ECHO_MAX else flat[: _ECHO_MAX - 3] + "..."


def echo_line(channel: str, record: dict[str, Any], *, colors: bool = False) -> str:
    """The console line for one captured message: who it is for and what it says, nothing else."""
    clock = datetime.now(UTC).strftime("%H:%M:%S")
    if channel == "sms":
        text = f">>> SMS to {record.get('to', '?')}: {_one_line(record.get('message', ''))}"
    elif channel == "push":
        inner = record.get("message")
        message: dict[str, Any] = inner if isinstance(inner, dict) else record
        note = message.get("notification") or {}
        token = str(message.get("token") or "")
        device = f"device ...{token[-6:]}" if token else "device ?"
        title, body = _one_line(note.get("title", "")), _one_line(note.get("body", ""))
        text = f">>> PUSH to {device}: {title}" + (f" | {body}" if body else "")
    else:
        text = f">>> {channel.upper()}: {_one_line(json.dumps(record, ensure_ascii=False, default=str))}"
    return f"{clock} {text}" if not colors else f"\x1b[2m{clock}\x1b[0m \x1b[1;36m{text}\x1b[0m"
