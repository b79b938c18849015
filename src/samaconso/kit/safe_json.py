"""JSON for cursors and WebSocket frames, free of any web framework (services' cursors use it):
no ``NaN``/``Infinity``, bounded nesting depth, only ``ValueError`` on bad input (never
``RecursionError``)."""

from __future__ import annotations

import json
from typing import Any

MAX_JSON_DEPTH = 32


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name}")


def _depth(value: Any, limit: int) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if level > limit:
            raise ValueError("too deeply nested")
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)


def load_json(raw: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    if (
        raw.count("[") + raw.count("{") if isinstance(raw, str) else raw.count(b"[") + raw.count(b"{")
    ) > 10_000:
        raise ValueError("too many containers")
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except RecursionError as exc:
        raise ValueError("too deeply nested") from exc
    _depth(value, max_depth)
    return value
