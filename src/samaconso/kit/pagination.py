"""Keyset (cursor) pagination. Every list endpoint answers ``{"items": [...], "next_cursor": ...}``."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
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


def decode_cursor(cursor: str | None, arity: int) -> list[Any] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != arity:
            raise ValueError("arity")
    except ValueError as exc:
        raise AppError(
            400, "invalid_cursor", "Curseur de pagination invalide.", "Invalid pagination cursor."
        ) from exc
    return values


LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page (1-100).")]
CursorQuery = Annotated[str | None, Query(description="Opaque cursor from the previous page.")]
