"""Dashboard benchmark on a national-scale database (``make bench-dashboard``).

1. creates a scratch database ``bench_dashboard_<pid>`` on the local PostgreSQL (127.0.0.1:5432,
   ``BENCH_PG_ADMIN_DSN`` to change), builds the schema with Alembic;
2. fills it inside PostgreSQL (``generate_series``): 1 000 000 customers, 1 200 000 meters,
   ~1 350 000 links, ~1 100 000 devices, 200 000 requests, a month of notifications with
   ~1 200 000 push deliveries (see ``bench/dashboard_data.py``), then ``VACUUM ANALYZE``;
3. measures, without the Redis cache:
   - the periodic rollup refresh (every agency + national, what the beat task runs),
   - the dashboard answer (``dashboard.service.compute``: rollup read + live request aggregates),
     national and for a large, a medium and a small agency (min / median / max of N runs),
   - for reference, what one live national aggregate over links would cost per request;
4. drops the database (``--keep`` to keep it).

    python -m bench.dashboard [--scale 1.0] [--runs 20] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid

import psycopg

ADMIN_DSN = os.environ.get("BENCH_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def _dsn(db: str) -> str:
    return ADMIN_DSN.rsplit("/", 1)[0] + f"/{db}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def create_and_fill(db_name: str, scale: float) -> None:
    from bench.dashboard_data import steps
    from samaconso.cli import migrate

    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db_name}"')
    migrate(_dsn(db_name).replace("postgresql://", "postgresql+asyncpg://", 1))
    with psycopg.connect(_dsn(db_name), autocommit=True) as conn:
        for label, sql in steps(scale):
            started = time.perf_counter()
            conn.execute(sql)  # type: ignore[arg-type]
            print(f"  fill {label:<45} {time.perf_counter() - started:6.1f} s", flush=True)
        started = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        print(f"  {'VACUUM ANALYZE':<50} {time.perf_counter() - started:6.1f} s", flush=True)
        for table in (
            "users",
            "meters",
            "meter_links",
            "devices",
            "customer_requests",
            "notification_deliveries",
        ):
            count = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # type: ignore[arg-type]  # noqa: S608
            print(f"  rows {table:<25} {count[0] if count else 0:>10,}")


async def measure(db_name: str, runs: int) -> None:
    from sqlalchemy import text

    from samaconso.dashboard import repository as repo
    from samaconso.dashboard import service
    from samaconso.kit.db import Database
    from samaconso.settings import Settings

    settings = Settings(database_url=_dsn(db_name).replace("postgresql://", "postgresql+asyncpg://", 1))
    db = Database(settings)
    try:
        async with db.sessionmaker() as session:
            agencies = [
                (str(code), uuid.UUID(str(aid)), int(n))
                for code, aid, n in (
                    await session.execute(
                        text(
                            "SELECT a.code, a.id, count(m.id) FROM agencies a LEFT JOIN meters m ON m.agency_id = a.id "
                            "GROUP BY a.code, a.id ORDER BY 3 DESC"
                        )
                    )
                ).all()
            ]
        picks = [agencies[0], agencies[len(agencies) // 2], agencies[-1]]

        print("\nRollup refresh (periodic task, every agency + national):")
        for i in range(2):
            started = time.perf_counter()
            assert await service.refresh_rollups(db, db)
            print(f"  run {i + 1}: {time.perf_counter() - started:6.2f} s")

        print(f"\nDashboard answer without cache ({runs} runs each): min / median / max")
        targets: list[tuple[str, uuid.UUID | None]] = [("national", None)]
        targets += [(f"agency {code} ({n:,} meters)", aid) for code, aid, n in picks]
        for label, agency_id in targets:
            await service.compute(db, db, agency_id)  # warm the connection pool
            timings = []
            for _ in range(runs):
                started = time.perf_counter()
                await service.compute(db, db, agency_id)
                timings.append(time.perf_counter() - started)
            print(f"  {label:<32} {_ms(min(timings))} {_ms(statistics.median(timings))} {_ms(max(timings))}")

        print("\nFor reference, one live national aggregate (links by status/kind, joined to meters):")
        async with db.sessionmaker() as session:
            await repo.tune_for_aggregates(session)
            started = time.perf_counter()
            await repo.links_by_scope(session)
            print(f"  {_ms(time.perf_counter() - started)}")
            await session.rollback()
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0, help="volume factor (1.0 = 1 000 000 users)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    from samaconso.kit.logging import configure_logging

    configure_logging("WARNING", False, process="bench")
    db_name = f"bench_dashboard_{os.getpid()}"
    print(f"Scratch database {db_name} (scale {args.scale})")
    started = time.perf_counter()
    try:
        create_and_fill(db_name, args.scale)
        print(f"  filled in {time.perf_counter() - started:.0f} s")
        asyncio.run(measure(db_name, args.runs))
    finally:
        if not args.keep:
            with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            print(f"\nDropped {db_name}")


if __name__ == "__main__":
    main()
