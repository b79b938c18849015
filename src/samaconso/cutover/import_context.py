"""What every import phase shares: the v2 reader, the v3 connection (one transaction for the whole
run: a failed or dry run leaves v3 untouched), the report, ``--since`` and the progress bars."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from tqdm import tqdm

from samaconso.cutover.report import ImportReport
from samaconso.cutover.v2_reader import V2Reader, since_filter
from samaconso.settings import Settings

# A write of at least this many rows, and at least half of what the table already holds, is a bulk
# load: the table's plain indexes and foreign keys are rebuilt after it rather than kept row by row.
BULK_MIN_ROWS = 20_000
# v2 batches read ahead while the previous one is converted and copied into v3.
READ_AHEAD = 2


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

    @asynccontextmanager
    async def bulk_write(self, table: str, rows: int) -> AsyncIterator[bool]:
        """Write ``rows`` rows into ``table``; when that is a bulk load (the full import into a fresh
        v3), the table's plain (non-unique) indexes and its foreign keys are dropped first and
        rebuilt after, in the same transaction: one sort per index and one join per key instead of
        a random index insert per row and index and a look-up per row and key (9 s → 2 s for
        114 000 links). Unique indexes stay (``ON CONFLICT`` and the rules need them). A key that
        does not hold fails the rebuild, hence the import, which rolls back like any failure. The
        table is locked (ACCESS EXCLUSIVE) until the import commits: that is the full import, run
        before the cutover window while the app still talks to v2; a delta is never a bulk load.
        Yields whether it was one."""
        held = int(
            (
                await self.fetchone(
                    "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = %(t)s::regclass",
                    {"t": table},
                )
            )[0]
        )
        if rows < BULK_MIN_ROWS or rows < held // 2:
            yield False
            return
        indexes = await self.fetch(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index"
            " WHERE indrelid = %(t)s::regclass AND NOT indisunique AND NOT indisprimary",
            {"t": table},
        )
        keys = await self.fetch(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = %(t)s::regclass AND contype = 'f'",
            {"t": table},
        )
        for name, _ in keys:
            await self.v3.execute(
                sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                    sql.Identifier(table), sql.Identifier(name)
                )
            )
        for name, _ in indexes:
            await self.v3.execute(sql.SQL("DROP INDEX {}").format(sql.SQL(name)))
        yield True
        for _, definition in indexes:
            await self.v3.execute(sql.SQL(definition))
        for name, definition in keys:
            await self.v3.execute(
                sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(
                    sql.Identifier(table), sql.Identifier(name)
                )
                + sql.SQL(definition)
            )
        # fresh statistics for the statements that follow in this transaction
        await self.v3.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
        self.report.facts[f"bulk_loaded_{table}"] = self.report.facts.get(f"bulk_loaded_{table}", 0) + rows

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
        # The next v2 batches are fetched (v2's work, on its own connection) while this one is
        # converted and copied into v3: the two databases and the Python side overlap.
        queue: asyncio.Queue[list[tuple[Any, ...]] | None] = asyncio.Queue(maxsize=READ_AHEAD)

        async def read() -> None:
            try:
                async for rows in self.v2.batches(query, self.since_params, self.batch_size):
                    await queue.put(rows)
            finally:
                await queue.put(None)

        reader = asyncio.create_task(read())
        try:
            while (rows := await queue.get()) is not None:
                yield rows
                bar.update(len(rows))
            await reader  # a v2 failure surfaces here
        finally:
            if not reader.done():
                reader.cancel()
                with suppress(asyncio.CancelledError, Exception):
                    await reader
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
