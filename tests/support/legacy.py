"""The simulated legacy source for tests: a PostgreSQL database ``<test db>_legacy`` with the SIC,
HISTH2MC and BI_ODS tables (schemas ``sic``, ``histh2mc``, ``bi_ods``) and a small generated data set
that starts with the fixed scenario of :mod:`samaconso.legacy.generator` (demo customer's prepaid
meter and postpaid contract, a meter registered to somebody else, a subscription notice).

Use it from any test package::

    from tests.support.legacy import legacy_source  # noqa: F401  (the session fixture)

The app's gateway reads it through ``settings.legacy_simulated_url`` (default: ``<database>_legacy``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
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
async def legacy_source(settings: Settings) -> AsyncIterator[LegacySource]:
    url = simulated_url(settings)
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    report = await load(url, SMALL_CUSTOMERS, seed=7, months=6, now=now, chunk_size=SMALL_CUSTOMERS)
    yield LegacySource(url=url, now=now, report=report)
    name = make_url(url).database
    with psycopg.connect(env.PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
