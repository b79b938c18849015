"""Read the v2 database: one read-only REPEATABLE READ transaction (a consistent picture of v2 while it
is still live), server-side cursors fetched in batches (bounded memory whatever the table size)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import psycopg
from psycopg import sql

V2_CONNECT_TIMEOUT_S = 10


class V2Reader:
    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn
        self._cursors = 0

    @classmethod
    async def open(cls, url: str) -> V2Reader:
        conn = await psycopg.AsyncConnection.connect(
            url,
            autocommit=True,
            connect_timeout=V2_CONNECT_TIMEOUT_S,
            # Belt and braces: even a bug here cannot write to v2.
            # work_mem: the fingerprint survey aggregates a million rows into COPY text in memory
            options="-c default_transaction_read_only=on -c statement_timeout=0 -c work_mem=64MB",
            application_name="samaconso-import-v2",
        )
        await conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return cls(conn)

    async def close(self) -> None:
        try:
            await self.conn.execute("ROLLBACK")
        finally:
            await self.conn.close()

    async def scalar(self, query: str, params: dict[str, Any] | None = None) -> Any:
        cur = await self.conn.execute(sql.SQL(query), params or {})
        row = await cur.fetchone()
        return row[0] if row else None

    async def rows(self, query: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        cur = await self.conn.execute(sql.SQL(query), params or {})
        return await cur.fetchall()

    async def batches(
        self, query: str, params: dict[str, Any] | None = None, size: int = 10_000
    ) -> AsyncIterator[list[tuple[Any, ...]]]:
        """Stream ``query``'s rows ``size`` at a time through a server-side cursor."""
        self._cursors += 1
        async with self.conn.cursor(name=f"v2_read_{self._cursors}") as cur:
            cur.itersize = size
            await cur.execute(sql.SQL(query), params or {})
            while True:
                rows = await cur.fetchmany(size)
                if not rows:
                    break
                yield rows
