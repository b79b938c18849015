"""What every import phase shares: the v2 reader, the v3 connection (one transaction for the whole
run: a failed or dry run leaves v3 untouched), the report, ``--since`` and the progress bars."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from tqdm import tqdm

from samaconso.cutover.report import ImportReport
from samaconso.cutover.v2_reader import V2Reader, since_filter
from samaconso.settings import Settings


def psycopg_url(url: str) -> str:
    """``postgresql+asyncpg://…`` (SQLAlchemy) → ``postgresql://…`` (libpq)."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+', 1)[0]}{sep}{rest}"


@dataclass
class ImportContext:
    settings: Settings
    v2: V2Reader
    v3: psycopg.AsyncConnection[Any]
    report: ImportReport
    since: datetime | None
    dry_run: bool
    batch_size: int = 10_000
    progress: bool = True
    max_ids: dict[str, int] = field(default_factory=dict)
    agencies: dict[int, Any] = field(default_factory=dict)  # v2 agence id -> v3 agency id
    agency_by_key: dict[str, Any] = field(default_factory=dict)  # legacy key -> v3 agency id

    # --- v3 helpers ---------------------------------------------------------------------------
    async def execute(self, query: str, params: dict[str, Any] | None = None) -> int:
        cur = await self.v3.execute(sql.SQL(query), params or {})
        return cur.rowcount

    async def fetch(self, query: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        cur = await self.v3.execute(sql.SQL(query), params or {})
        return await cur.fetchall()

    async def fetchone(self, query: str, params: dict[str, Any] | None = None) -> tuple[Any, ...]:
        rows = await self.fetch(query, params)
        return rows[0]

    async def copy(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        )
        async with self.v3.cursor() as cur, cur.copy(statement) as copy:
            for row in rows:
                await copy.write_row(row)

    # --- v2 helpers ---------------------------------------------------------------------------
    def where_changed(self, entity: str, alias: str, time_column: str | None) -> str:
        return since_filter(alias, time_column, self.since, self.max_ids.get(entity, 0))

    @property
    def since_params(self) -> dict[str, Any]:
        return {"since": self.since} if self.since is not None else {}

    async def stream(self, label: str, count_query: str, query: str) -> AsyncIterator[list[tuple[Any, ...]]]:
        """Batches of a v2 query, with a progress bar sized by ``count_query``."""
        total = int(await self.v2.scalar(count_query, self.since_params) or 0)
        bar = tqdm(
            total=total, desc=label, unit=" rows", disable=not self.progress, leave=True, mininterval=1
        )
        try:
            async for rows in self.v2.batches(query, self.since_params, self.batch_size):
                yield rows
                bar.update(len(rows))
        finally:
            bar.close()


class Timer:
    def __init__(self, report: ImportReport, name: str) -> None:
        self.report = report
        self.name = name
        self.start = 0.0

    def __enter__(self) -> Timer:
        self.start = time.monotonic()
        return self

    def __exit__(self, *_: object) -> None:
        self.report.timings_s[self.name] = time.monotonic() - self.start
