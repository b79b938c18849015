"""Keyset (cursor) pagination. Every list endpoint answers ``{"items": [...], "next_cursor": ...}``."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from samaconso.kit.errors import AppError

T = TypeVar("T")
MAX_LIMIT = 100


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(*values: Any) -> str:
    raw = json.dumps([v if isinstance(v, int | float | bool) or v is None else str(v) for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def invalid_cursor() -> AppError:
    return AppError(400, "invalid_cursor", "Curseur de pagination invalide.", "Invalid pagination cursor.")


def decode_cursor(cursor: str | None, arity: int) -> list[Any] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != arity:
            raise ValueError("arity")
    except ValueError as exc:
        raise invalid_cursor() from exc
    return values


def parse_cursor(cursor: str | None, *parsers: Callable[[Any], Any]) -> tuple[Any, ...] | None:
    """Decode a cursor of ``len(parsers)`` values, each converted by its parser (``int``,
    ``uuid.UUID``...). A cursor that decodes but does not convert is a 400, never a 500."""
    values = decode_cursor(cursor, len(parsers))
    if values is None:
        return None
    try:
        return tuple(parse(value) for parse, value in zip(parsers, values, strict=True))
    except (TypeError, ValueError) as exc:
        raise invalid_cursor() from exc


def _as_datetime(value: Any) -> datetime:
    return datetime.fromisoformat(str(value))


def _as_uuid(value: Any) -> uuid.UUID:
    return uuid.UUID(str(value))


def encode_time_cursor(moment: datetime, row_id: uuid.UUID) -> str:
    """Cursor of a list ordered by (time, id): the last item's values."""
    return encode_cursor(moment.isoformat(), row_id)


def decode_time_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    values = parse_cursor(cursor, _as_datetime, _as_uuid)
    return None if values is None else (values[0], values[1])
