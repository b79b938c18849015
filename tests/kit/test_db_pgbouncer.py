"""The application's engine works through a real PgBouncer in transaction pooling mode."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import select, text

from samaconso.identity.models import Agency
from samaconso.kit.db import Database
from samaconso.settings import Settings
from tests.support import env
from tests.support.services import TRACKING_PGBOUNCER, start_pgbouncer


@pytest.fixture(scope="module")
def pgbouncer_port() -> Iterator[int]:
    proc, port = start_pgbouncer(env.TMP)
    yield port
    proc.stop()


@pytest.fixture(scope="module")
def tracking_pgbouncer_port() -> Iterator[int]:
    """PgBouncer >= 1.21 with max_prepared_statements (as deploy/README.md §13.3 recommends)."""
    proc, port = start_pgbouncer(env.TMP, exe=TRACKING_PGBOUNCER, max_prepared_statements=100)
    yield port
    proc.stop()


async def _concurrent_sessions(through: Database, prefix: str, n: int = 60) -> set[int]:
    """``n`` concurrent transactions, each inserting and reading back a row with the same
    parameterised statements; the server connections they ran on."""

    async def one(i: int) -> int:
        async with through.sessionmaker() as session:
            session.add(
                Agency(code=f"{prefix}{i:03d}", name=f"Test {prefix} {i}", legacy_name=f"TEST {prefix} {i}")
            )
            await session.commit()
            found = (
                await session.execute(select(Agency.code).where(Agency.code == f"{prefix}{i:03d}"))
            ).scalar_one()
            assert found == f"{prefix}{i:03d}"
            return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())

    return set(await asyncio.gather(*(one(i) for i in range(n))))


def _with_statement_caches(settings: Settings, database_url: str, port: int) -> Database:
    """The app's engine through the PgBouncer on ``port``, statement caches kept on."""
    url = database_url.replace("127.0.0.1:5432", f"127.0.0.1:{port}")
    flags = {"database_behind_pgbouncer": True, "database_pgbouncer_prepared_statements": True}
    return Database(settings.model_copy(update=flags), url=url)


async def test_statement_caches_behind_a_pgbouncer_that_tracks_them(
    settings: Settings, database_url: str, tracking_pgbouncer_port: int, db: Database
) -> None:
    """SAMACONSO_DATABASE_PGBOUNCER_PREPARED_STATEMENTS: each statement is parsed once per client
    connection and PgBouncer prepares it on whichever server runs it."""
    through = _with_statement_caches(settings, database_url, tracking_pgbouncer_port)
    try:
        for _ in range(3):  # 60 clients on 5 servers: cached statements meet servers that never saw them
            async with db.engine.begin() as conn:
                await conn.execute(text("DELETE FROM agencies WHERE code LIKE 'P%'"))
            pids = await _concurrent_sessions(through, "P")
            assert len(pids) <= 5, "PgBouncer multiplexed the sessions on its small server pool"
        async with through.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            cached = raw.dbapi_connection._prepared_statement_cache  # type: ignore[union-attr]
            assert cached is not None
            assert len(cached) > 0, "the driver kept its prepared statements"
    finally:
        await through.dispose()


async def test_statement_caches_are_refused_by_an_older_pgbouncer(
    settings: Settings, database_url: str, pgbouncer_port: int
) -> None:
    """Why the setting says "never below 1.21": PgBouncer 1.18 hands a cached statement to a server
    connection that never prepared it."""
    from sqlalchemy.exc import DBAPIError

    through = _with_statement_caches(settings, database_url, pgbouncer_port)
    try:

        async def three_rounds() -> None:
            for round_ in range(3):
                await _concurrent_sessions(through, f"Q{round_}")

        with pytest.raises(DBAPIError, match="prepared statement"):
            await three_rounds()
    finally:
        await through.dispose()


async def test_orm_queries_through_pgbouncer_transaction_mode(
    settings: Settings, database_url: str, pgbouncer_port: int, db: Database
) -> None:
    url = database_url.replace("127.0.0.1:5432", f"127.0.0.1:{pgbouncer_port}")
    through = Database(settings.model_copy(update={"database_behind_pgbouncer": True}), url=url)
    try:
        # Many concurrent transactions share PgBouncer's 5 server connections: the same parameterised
        # statements are prepared again and again on connections other sessions used before.
        pids = await _concurrent_sessions(through, "T")
        assert len(pids) <= 5, "PgBouncer multiplexed the sessions on its small server pool"
        async with through.sessionmaker() as session:
            count = (await session.execute(select(Agency).where(Agency.code.like("T%")))).scalars().all()
            assert len(count) == 60
            assert (await session.execute(text("SHOW transaction_isolation"))).scalar_one()
    finally:
        await through.dispose()


async def test_database_sets_times_in_utc(db: Database) -> None:
    async with db.sessionmaker() as session:
        agency = Agency(code=f"U{uuid.uuid4().hex[:6]}", name="Utc", legacy_name="UTC")
        session.add(agency)
        await session.commit()
        await session.refresh(agency)
        assert agency.created_at.tzinfo is not None
        assert agency.created_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


async def test_sql_errors_never_carry_bound_values(db: Database) -> None:
    import pytest
    from sqlalchemy.exc import DBAPIError

    secret = "argon2-hash-that-must-not-leak"
    async with db.sessionmaker() as session:
        with pytest.raises(DBAPIError) as info:
            await session.execute(text("SELECT 1 / 0 WHERE :v <> ''"), {"v": secret})
    assert "division by zero" in str(info.value)
    assert secret not in str(info.value)
