"""The simulated legacy source for tests: a PostgreSQL database ``<test db>_legacy`` with the SIC,
HISTH2MC and BI_ODS tables (schemas ``sic``, ``histh2mc``, ``bi_ods``) and a small generated data set
that starts with the fixed scenario of :mod:`samaconso.legacy.generator` (demo customer's prepaid
meter and postpaid contract, a meter registered to somebody else, a subscription notice).

The session fixture ``legacy_source`` is registered once, by the root ``tests/conftest.py``: do not
import it into another conftest or test module (each import would be a separate session instance,
loading the same database again).

The app's gateway reads it through ``settings.legacy_simulated_url`` (default: ``<database>_legacy``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import psycopg
import pytest
from sqlalchemy import make_url

from samaconso.legacy.gateway import simulated_url
from samaconso.legacy.generator import LoadReport, load
from samaconso.legacy.simulated import asyncpg_dsn
from samaconso.settings import Settings
from tests.support import env

SMALL_CUSTOMERS = 40


@dataclass
class LegacySource:
    url: str
    now: datetime
    report: LoadReport

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        """Read the simulated source directly (to compare API answers with the legacy rows)."""
        conn = await asyncpg.connect(asyncpg_dsn(self.url), timeout=5)
        try:
            return [dict(r) for r in await conn.fetch(sql, *args)]
        finally:
            await conn.close()


@pytest.fixture(scope="session")
async def legacy_source(base_settings: Settings) -> AsyncIterator[LegacySource]:
    url = simulated_url(base_settings)
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    report = await load(url, SMALL_CUSTOMERS, seed=7, months=6, now=now, chunk_size=SMALL_CUSTOMERS)
    yield LegacySource(url=url, now=now, report=report)
    name = make_url(url).database
    with psycopg.connect(env.PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class TcpProxy:
    """A loopback TCP proxy in front of a database, to take it away mid-test.

    ``stop()`` closes the listening socket and cuts every open connection (the database "goes
    down"); ``blackhole()`` keeps accepting connections but never forwards a byte (the database
    "hangs")."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.server: asyncio.Server | None = None
        self.port = 0
        self.hang = False
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> TcpProxy:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        if self.hang:
            return  # accept and say nothing
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.add(up_writer)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    def cut_connections(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def stop(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.close()
        self.cut_connections()
        if server is not None:
            await server.wait_closed()

    def blackhole(self) -> None:
        self.hang = True
        self.cut_connections()

    def url_for(self, url: str) -> str:
        return make_url(url).set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)
