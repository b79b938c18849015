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
from samaconso.cutover.v2_reader import V2Reader
from samaconso.settings import Settings

# A write of at least this many rows, and at least half of what the table already holds, is a bulk
# load: the table's plain indexes and foreign keys are rebuilt after it rather than kept row by row.
BULK_MIN_ROWS = 20_000
# v2 batches read ahead while the previous one is converted and copied into v3.
READ_AHEAD = 2
PIPE_ROWS = 10_000
# hash_record_extended (PostgreSQL 14+) hashes a row without printing it: 4 to 5 times cheaper for
# v2 than md5 of its text, which older servers get instead (the first 64 bits of it)
ROW_HASH_MIN_VERSION = 140_000


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
    # delta runs: per v2 table, the ids of the rows to read (changed, new, or whose user changed);
    # None = every row (a full import, or a delta where most rows changed)
    changed: dict[str, list[int] | None] = field(default_factory=dict)
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
    @property
    def delta(self) -> bool:
        return self.since is not None

    def where_changed(self, entity: str, alias: str) -> str:
        """The v2 rows of ``entity`` this run reads: all of them, or the surveyed changes."""
        ids = self.changed.get(entity)
        if ids is None:
            return "TRUE"
        return f"{alias}.id = ANY(%(changed_ids)s)" if ids else "FALSE"

    def params(self, entity: str) -> dict[str, Any]:
        ids = self.changed.get(entity)
        return {"changed_ids": ids} if ids else {}

    async def pipe(self, query: str, table: str, columns: Sequence[str]) -> None:
        """``query``'s rows (v2) into ``table`` (v3) by COPY, packed by v2 itself into COPY text
        lines, ``PIPE_ROWS`` rows to a value: Python handles a few hundred strings per million
        rows, never a row (``query``: constants only, no parameters; its values must not contain
        tabs, newlines or backslashes — ids and fingerprints)."""
        names = [f"c{i}" for i in range(len(columns))]
        line = " || E'\\t' || ".join(f"coalesce({n}::text, '\\N')" for n in names)
        packed = (
            f"SELECT string_agg({line}, E'\\n') FROM ({query}) q({', '.join(names)})"  # noqa: S608
            f" GROUP BY c0 / {PIPE_ROWS}"
        )
        target = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        )
        async with self.v3.cursor() as cur, cur.copy(target) as dst:
            async for blobs in self.v2.batches(packed, None, 8):
                for (blob,) in blobs:
                    if blob:
                        await dst.write(blob + "\n")

    async def row_hash(self, columns: str) -> str:
        """The SQL of a 64-bit fingerprint of ``columns`` (a v2 select list), for this v2 server."""
        version = int(await self.v2.scalar("SELECT current_setting('server_version_num')::int") or 0)
        if version >= ROW_HASH_MIN_VERSION:
            return f"hash_record_extended(ROW({columns}), 0)"
        return f"('x' || left(md5(ROW({columns})::text), 16))::bit(64)::bigint"

    async def survey(self, entity: str, query: str, parent: str | None = None) -> None:
        """Fingerprint every v2 row of ``entity`` (``query``: ``id, parent id, fingerprint`` —
        :meth:`row_hash` over the columns the import reads) into ``st_fp_<entity>``, and find the deleted ones
        (remembered by an earlier import, gone from v2) into ``st_gone_<entity>``. A delta then
        reads only the rows whose fingerprint differs or is new, plus those whose ``parent``
        (the user) changed in this run — a link skipped because its user had a bad phone comes
        back when the phone is fixed. Nothing depends on v2's clocks."""
        fp, gone = f"st_fp_{entity}", f"st_gone_{entity}"
        await self.execute(f"CREATE TEMP TABLE {fp} (v2_id bigint, parent bigint, fp bigint) ON COMMIT DROP")
        await self.pipe(query, fp, ("v2_id", "parent", "fp"))
        await self.execute(f"ANALYZE {fp}")  # no index: every use is one hash join over it
        await self.execute(
            f"CREATE TEMP TABLE {gone} ON COMMIT DROP AS"  # noqa: S608 - constant names
            f" SELECT r.v2_id FROM cutover_v2_rows r WHERE r.entity = %(e)s"
            f" AND NOT EXISTS (SELECT 1 FROM {fp} f WHERE f.v2_id = r.v2_id)",
            {"e": entity},
        )
        surveyed, deleted = await self.fetchone(
            f"SELECT (SELECT count(*) FROM {fp}), (SELECT count(*) FROM {gone})"  # noqa: S608
        )
        if deleted:
            self.report.facts[f"gone_from_v2_{entity}"] = int(deleted)
        if not self.delta:
            self.changed[entity] = None
            return
        by_parent = f" OR f.parent IN (SELECT v2_id FROM st_changed_{parent})" if parent else ""  # noqa: S608
        await self.execute(
            f"CREATE TEMP TABLE st_changed_{entity} ON COMMIT DROP AS"  # noqa: S608
            f" SELECT f.v2_id FROM {fp} f LEFT JOIN cutover_v2_rows r ON r.entity = %(e)s AND r.v2_id = f.v2_id"
            f" WHERE r.fingerprint IS DISTINCT FROM f.fp{by_parent}",
            {"e": entity},
        )
        ids = [int(r[0]) for r in await self.fetch(f"SELECT v2_id FROM st_changed_{entity} ORDER BY 1")]  # noqa: S608
        self.report.facts[f"delta_changed_{entity}"] = len(ids)
        # most rows changed (no fingerprints yet: the full import was made by an older version)
        self.changed[entity] = None if len(ids) > int(surveyed) // 2 else ids

    async def lost(self, entity: str, gone_table: str | None = None, *, only_imported: bool = False) -> str:
        """The v3 rows that no v2 row carries any more: every v2 row mapped onto them is in
        ``gone_table`` (default: the deleted rows of ``entity``). Their mappings are marked
        ``deleted`` (kept: the record of what came from v2). ``only_imported``: leave alone a v3
        row v2 rows were only merged into (an account signed up on v3). Returns the temp table of
        their v3 ids (``st_lost_<entity>``), for the phase to undo them its own way."""
        gone = gone_table or f"st_gone_{entity}"
        lost = f"st_lost_{entity}"
        imported = (
            " AND EXISTS (SELECT 1 FROM cutover_v2_ids i WHERE i.entity = m.entity AND i.v3_id = m.v3_id"
            " AND i.outcome = 'imported')"
            if only_imported
            else ""
        )
        await self.execute(
            f"CREATE TEMP TABLE {lost} ON COMMIT DROP AS"  # noqa: S608 - constant names
            f" SELECT DISTINCT m.v3_id FROM cutover_v2_ids m JOIN {gone} g ON g.v2_id = m.v2_id"
            " WHERE m.entity = %(e)s AND m.outcome <> 'deleted'"
            " AND NOT EXISTS (SELECT 1 FROM cutover_v2_ids o WHERE o.entity = m.entity AND o.v3_id = m.v3_id"
            f" AND o.outcome <> 'deleted' AND NOT EXISTS (SELECT 1 FROM {gone} x WHERE x.v2_id = o.v2_id))"
            f"{imported}",
            {"e": entity},
        )
        await self.execute(
            f"UPDATE cutover_v2_ids m SET outcome = 'deleted', last_imported_at = now() FROM {gone} g"  # noqa: S608
            " WHERE m.entity = %(e)s AND m.v2_id = g.v2_id AND m.outcome <> 'deleted'",
            {"e": entity},
        )
        return lost

    async def remember(self, entity: str) -> None:
        """Keep the fingerprints of the rows this run read (the next delta compares with them) and
        forget the deleted ones. In a dry run it is rolled back with the rest."""
        fp = f"st_fp_{entity}"
        only = f" JOIN st_changed_{entity} USING (v2_id)" if self.changed.get(entity) is not None else ""
        await self.execute(
            f"INSERT INTO cutover_v2_rows (entity, v2_id, fingerprint) SELECT %(e)s, v2_id, fp FROM {fp}{only}"  # noqa: S608
            " ON CONFLICT (entity, v2_id) DO UPDATE SET fingerprint = excluded.fingerprint"
            " WHERE cutover_v2_rows.fingerprint <> excluded.fingerprint",
            {"e": entity},
        )
        await self.execute(
            f"DELETE FROM cutover_v2_rows r USING st_gone_{entity} g WHERE r.entity = %(e)s AND r.v2_id = g.v2_id",  # noqa: S608
            {"e": entity},
        )

    async def stream(
        self, label: str, entity: str, count_query: str, query: str
    ) -> AsyncIterator[list[tuple[Any, ...]]]:
        """Batches of a v2 query over ``entity``'s rows, with a progress bar sized by ``count_query``."""
        params = self.params(entity)
        total = int(await self.v2.scalar(count_query, params) or 0)
        bar = tqdm(
            total=total, desc=label, unit=" rows", disable=not self.progress, leave=True, mininterval=1
        )
        # The next v2 batches are fetched (v2's work, on its own connection) while this one is
        # converted and copied into v3: the two databases and the Python side overlap.
        queue: asyncio.Queue[list[tuple[Any, ...]] | None] = asyncio.Queue(maxsize=READ_AHEAD)

        async def read() -> None:
            try:
                async for rows in self.v2.batches(query, params, self.batch_size):
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
