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
from tests.support.services import start_pgbouncer


@pytest.fixture(scope="module")
def pgbouncer_port() -> Iterator[int]:
    proc, port = start_pgbouncer(env.TMP)
    yield port
    proc.stop()


async def test_orm_queries_through_pgbouncer_transaction_mode(
    settings: Settings, database_url: str, pgbouncer_port: int, db: Database
) -> None:
    url = database_url.replace("127.0.0.1:5432", f"127.0.0.1:{pgbouncer_port}")
    through = Database(settings.model_copy(update={"database_behind_pgbouncer": True}), url=url)
    try:
        # Many concurrent transactions share PgBouncer's 5 server connections: the same parameterised
        # statements are prepared again and again on connections other sessions used before.
        async def one(i: int) -> int:
            async with through.sessionmaker() as session:
                session.add(Agency(code=f"T{i:03d}", name=f"Test {i}", legacy_name=f"TEST {i}"))
                await session.commit()
                found = (
                    await session.execute(select(Agency.code).where(Agency.code == f"T{i:03d}"))
                ).scalar_one()
                server_pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
                assert found == f"T{i:03d}"
                return int(server_pid)

        pids = await asyncio.gather(*(one(i) for i in range(60)))
        assert len(set(pids)) <= 5, "PgBouncer multiplexed the sessions on its small server pool"
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
