"""Keyset (cursor) pagination. Every list endpoint answers ``{"items": [...], "next_cursor": ...}``."""

from __future__ import annotations

import base64
import json
import math
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from samaconso.kit.errors import AppError
from samaconso.kit.safe_json import load_json

T = TypeVar("T")
MAX_LIMIT = 100
MAX_CURSOR_CHARS = 512
MIN_CURSOR_YEAR, MAX_CURSOR_YEAR = 1970, 2199
_ISO_MOMENT = re.compile(r"^\d{4,}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


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
        if len(cursor) > MAX_CURSOR_CHARS:
            raise ValueError("too long")
        padded = cursor + "=" * (-len(cursor) % 4)
        values = load_json(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != arity:
            raise ValueError("arity")
        if any(isinstance(v, list | dict) for v in values):
            raise ValueError("nested")
        for value in values:  # every domain's cursor, even those decoded by hand
            _bounded(value)
            if isinstance(value, str) and _ISO_MOMENT.match(value):
                _bounded(_as_datetime(value))
    except (ValueError, UnicodeDecodeError, OverflowError) as exc:
        raise invalid_cursor() from exc
    return values


def parse_cursor(cursor: str | None, *parsers: Callable[[Any], Any]) -> tuple[Any, ...] | None:
    """Decode a cursor of ``len(parsers)`` values, each converted by its parser (``int``,
    ``uuid.UUID``...). A cursor that decodes but does not convert is a 400, never a 500."""
    values = decode_cursor(cursor, len(parsers))
    if values is None:
        return None
    try:
        return tuple(_bounded(parse(value)) for parse, value in zip(parsers, values, strict=True))
    except (TypeError, ValueError, OverflowError) as exc:
        raise invalid_cursor() from exc


def _bounded(value: Any) -> Any:
    """A cursor value the database can take: 64-bit integers, aware datetimes of sane years."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        raise ValueError("integer out of range")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("non-finite")
    if isinstance(value, datetime) and not MIN_CURSOR_YEAR <= value.year <= MAX_CURSOR_YEAR:
        raise ValueError("year out of range")
    return value


def _as_datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("datetime expected")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(UTC)


def _as_uuid(value: Any) -> uuid.UUID:
    return uuid.UUID(str(value))


def encode_time_cursor(moment: datetime, row_id: uuid.UUID) -> str:
    """Cursor of a list ordered by (time, id): the last item's values."""
    return encode_cursor(moment.isoformat(), row_id)


def decode_time_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    values = parse_cursor(cursor, _as_datetime, _as_uuid)
    return None if values is None else (values[0], values[1])


def slice_sorted(
    items: list[T], key: Callable[[T], tuple[str, str]], cursor: str | None, limit: int
) -> tuple[list[T], str | None]:
    """One page of a list already sorted newest first by ``key`` (two text values, e.g. an ISO date
    and a number), for lists read whole from elsewhere (the legacy gateway): the items strictly
    after the cursor's key, and the next cursor when more remain."""
    after = decode_cursor(cursor, 2)
    if after is not None:
        mark = (str(after[0]), str(after[1]))
        items = [i for i in items if key(i) < mark]
    page = items[:limit]
    more = len(items) > limit
    return page, (encode_cursor(*key(page[-1])) if more and page else None)
