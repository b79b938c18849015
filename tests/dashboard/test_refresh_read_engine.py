"""The dashboard refresh reads its aggregates on the read engine (SAMACONSO_DATABASE_READ_URL: a
streaming replica in production) and writes its rollups on the primary.

The "replica" is a second database built by the same migrations, and it refuses every write the way a
hot standby does (``default_transaction_read_only`` set on the database, whatever the client asks):
a refresh that wrote there (the temporary table it used to build) fails. Its rows differ from the
primary's, so the rollups say which database they were read from."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from samaconso import worker_wiring
from samaconso.dashboard import service as dashboard_service
from samaconso.dashboard.models import DashboardDaily, DashboardRollup
from samaconso.dashboard.tasks import housekeeping_refresh
from samaconso.identity.models import Agency, Role
from samaconso.kit.aio import run_sync
from samaconso.kit.db import Database
from samaconso.kit.read_only_repository import read_only_session
from samaconso.meters.models import LinkStatus, MeterKind
from samaconso.models import metadata
from samaconso.settings import Settings
from tests.dashboard.helpers import delivery, devices, notification, sql
from tests.requests.helpers import link, make_meter
from tests.support import env
from tests.support.replica_database import admin_exec, replica_database
from tests.support.users import make_user

API = "/api/v1"
REPLICA_DB = f"{env.TEST_DB}_dash_replica"


@pytest.fixture(scope="module")
def replica_url(database_url: str) -> Iterator[str]:
    with replica_database(REPLICA_DB) as url:
        yield url


@pytest.fixture
def settings_overrides(replica_url: str) -> dict[str, Any]:
    return {"database_read_url": replica_url}


@pytest.fixture
async def replica(app: FastAPI, db: Database, replica_url: str) -> AsyncIterator[Database]:
    """A writable handle on the replica database, its tables emptied, for the test to fill; once the
    test calls ``standby()`` the app's read engine only gets connections that refuse to write."""
    writer = Database(app.state.settings, url=replica_url)
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    async with writer.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    try:
        yield writer
    finally:
        await writer.dispose()
        admin_exec(f'ALTER DATABASE "{REPLICA_DB}" RESET default_transaction_read_only')


async def _standby(app: FastAPI) -> Database:
    """From now on the replica refuses writes, like a hot standby; the read engine reconnects."""
    admin_exec(f'ALTER DATABASE "{REPLICA_DB}" SET default_transaction_read_only = on')
    read_db: Database = app.state.read_db
    await read_db.engine.dispose()
    return read_db


async def _rolled_up_data(db: Database, settings: Settings, agencies: dict[str, uuid.UUID]) -> None:
    """Links, customers, devices, sign-ups and notifications (the rolled-up figures) in ``db``."""
    dkc, ths = agencies["DKC"], agencies["THS"]
    c = [await make_user(db, settings, Role.customer) for _ in range(5)]
    m1 = await make_meter(db, agency_id=dkc, kind=MeterKind.prepaid)
    m2 = await make_meter(db, agency_id=dkc, kind=MeterKind.postpaid)
    m3 = await make_meter(db, agency_id=ths, kind=MeterKind.prepaid)
    m4 = await make_meter(db, agency_id=None, kind=MeterKind.postpaid)
    await link(db, c[0].id, m1)
    await link(db, c[1].id, m2)
    await link(db, c[1].id, m1, is_owner=False)
    await link(db, c[2].id, m3)
    await link(db, c[2].id, m2, status=LinkStatus.pending, is_owner=False)
    await link(db, c[3].id, m4)
    await link(db, c[4].id, m4, status=LinkStatus.revoked, is_owner=False)
    d0 = await devices(db, c[0].id, active=2)
    await devices(db, c[1].id, active=1, inactive=1)
    d2 = await devices(db, c[2].id, active=1)
    await sql(db, "UPDATE users SET created_at = now() - interval '3 days' WHERE id = :u", u=c[1].id)
    n1 = await notification(db, kind="user", age_days=0.1, user=c[0].id)
    await delivery(db, n1, d0[0], "sent")
    await delivery(db, n1, d0[1], "dead")
    n2 = await notification(db, kind="agency", age_days=10, agencies=[ths])
    await delivery(db, n2, d2[0], "sent")


async def _copy_agencies(agencies: dict[str, Agency], target: Database) -> dict[str, uuid.UUID]:
    """The same agencies (same ids) in another database, as a replica has them."""
    async with target.sessionmaker() as session:
        session.add_all(
            [
                Agency(id=a.id, code=a.code, name=a.name, region=a.region, legacy_name=a.legacy_name)
                for a in agencies.values()
            ]
        )
        await session.commit()
    return {code: a.id for code, a in agencies.items()}


async def _rollups(db: Database) -> dict[str, dict[str, Any]]:
    async with db.sessionmaker() as session:
        return {r.scope: r.figures for r in await session.scalars(select(DashboardRollup))}


async def _count(db: Database, table: type[DashboardRollup] | type[DashboardDaily]) -> int:
    async with db.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def test_the_refresh_reads_a_replica_that_refuses_writes_and_writes_the_primary(
    app: FastAPI,
    client: AsyncClient,
    db: Database,
    replica: Database,
    settings: Settings,
    agencies: dict[str, Agency],
) -> None:
    ids = await _copy_agencies(agencies, replica)
    await _rolled_up_data(replica, settings, ids)  # on the replica only: the primary has no customer
    read_db = await _standby(app)
    assert read_db is not db
    async with read_db.sessionmaker() as session:  # the stand-in standby really refuses writes
        with pytest.raises(DBAPIError, match="read-only transaction"):
            await session.execute(text("CREATE TEMP TABLE probe AS SELECT 1 AS x"))

    assert await dashboard_service.refresh_rollups(db, read_db)

    rollups = await _rollups(db)  # written on the primary, with the replica's figures
    national, dkc = rollups["national"], rollups[str(ids["DKC"])]
    assert national["users"] == {"customers": 5, "owners": 4, "shared_users": 1, "active_devices": 4}
    assert national["links"]["total"] == 7
    assert dkc["users"] == {"customers": 2, "owners": 2, "shared_users": 1, "active_devices": 3}
    assert national["notifications"]["last_30_days"] == {
        "notifications": 2,
        "push_attempts": 3,
        "push_delivered": 2,
        "delivery_rate": 0.6667,
    }
    assert await _count(db, DashboardDaily) > 0
    assert await _count(replica, DashboardRollup) == 0  # nothing written on the replica
    assert await _count(replica, DashboardDaily) == 0

    admin = await make_user(db, settings, Role.admin)  # what an administrator sees
    body = (await client.get(f"{API}/dashboard", headers=admin.headers)).json()
    assert body["users"]["customers"] == 5
    assert body["links"]["active"] == 5


async def test_replica_and_primary_only_refreshes_give_the_same_figures(
    app: FastAPI, db: Database, replica: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    ids = await _copy_agencies(agencies, replica)
    await _rolled_up_data(replica, settings, ids)
    await _rolled_up_data(db, settings, ids)  # the same rows on the primary (other random ids)
    read_db = await _standby(app)

    assert await dashboard_service.refresh_rollups(db, read_db)
    from_replica = await _rollups(db)
    await sql(db, "DELETE FROM dashboard_daily")  # the primary-only refresh recomputes every day
    assert await dashboard_service.refresh_rollups(db, db)  # no read URL: READ ONLY on the primary
    from_primary = await _rollups(db)

    assert from_replica == from_primary
    assert from_primary["national"]["users"]["customers"] == 5


@pytest.mark.settings(database_read_url=None)
async def test_without_a_read_url_the_refresh_reads_the_primary_read_only(
    app: FastAPI, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    assert app.state.read_db is db
    await _rolled_up_data(db, settings, {code: a.id for code, a in agencies.items()})
    async with read_only_session(db) as session:  # what the refresh reads through refuses writes
        with pytest.raises(DBAPIError, match="read-only transaction"):
            await session.execute(text("CREATE TEMP TABLE probe AS SELECT 1 AS x"))
    assert await dashboard_service.refresh_rollups(db, app.state.read_db)
    assert (await _rollups(db))["national"]["users"]["customers"] == 5


async def test_one_refresh_at_a_time_the_lock_is_on_the_primary(
    app: FastAPI, db: Database, replica: Database
) -> None:
    read_db = await _standby(app)
    async with db.sessionmaker.begin() as session:  # another refresh holds the primary's lock
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": 0x5A4D_DA5B})
        assert not await dashboard_service.refresh_rollups(db, read_db)
    assert await dashboard_service.refresh_rollups(db, read_db)


async def test_the_worker_task_reads_the_replica(
    app: FastAPI,
    db: Database,
    replica: Database,
    settings: Settings,
    agencies: dict[str, Agency],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The beat's task, in a worker process: its start-up built the read engine from the read URL."""
    ids = await _copy_agencies(agencies, replica)
    await _rolled_up_data(replica, settings, ids)
    await _standby(app)
    resources = worker_wiring.build_resources(settings)
    assert resources.aggregate_read_db is not resources.aggregate_db
    assert resources.aggregate_read_db.engine.url.database == REPLICA_DB
    monkeypatch.setattr(worker_wiring, "_process", [resources])

    def in_the_worker() -> bool:  # a worker process: its own thread and event loop
        try:
            return bool(housekeeping_refresh())
        finally:
            run_sync(resources.aclose())

    assert await asyncio.to_thread(in_the_worker)
    assert (await _rollups(db))["national"]["users"]["customers"] == 5  # the replica's customers
    assert await _count(replica, DashboardRollup) == 0


@pytest.mark.settings(database_read_url=None)
def test_without_a_read_url_the_worker_reads_the_primary(settings: Settings) -> None:
    resources = worker_wiring.build_resources(settings)
    try:
        assert resources.aggregate_read_db is resources.aggregate_db
    finally:
        run_sync(resources.aclose())
