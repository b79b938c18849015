"""Measure the simulated legacy source generator: ``python -m bench.legacy_seed --customers 100000``.

Builds a throw-away database (default ``samaconso_bench_legacy`` on the local PostgreSQL), reports
customers/s and rows/s, the database size, the time of a few gateway queries on that volume, and the
extrapolation to 1 000 000 customers; drops the database unless ``--keep``. Measured, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import asyncpg  # type: ignore[import-untyped]

from samaconso.legacy import generator as g
from samaconso.legacy.gateway import LegacyGateway
from samaconso.legacy.simulated import asyncpg_dsn
from samaconso.settings import Settings


async def main(url: str, customers: int, keep: bool) -> None:
    from tqdm import tqdm

    with tqdm(total=customers, unit="clients") as bar:
        report = await g.load(url, customers, progress=bar.update)
    rows = sum(report.rows.values())
    print(f"{customers} customers, {rows} rows in {report.seconds:.1f} s")
    print(f"  {customers / report.seconds:,.0f} customers/s, {rows / report.seconds:,.0f} rows/s")
    print(f"  1 000 000 customers ≈ {report.seconds * 1_000_000 / customers / 60:.1f} min (linear)")
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        size = await conn.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
    finally:
        await conn.close()
    print(f"  database size {size}")
    gateway = LegacyGateway.from_settings(Settings(legacy_simulated_url=url))
    try:
        for name, call in (
            ("purchases_top", lambda: gateway.purchases_top(g.DEMO_PREPAID_METER, g.DEMO_PREPAID_POC)),
            (
                "purchases_monthly",
                lambda: gateway.purchases_monthly(g.DEMO_PREPAID_METER, g.DEMO_PREPAID_POC, 2026),
            ),
            ("bills_top", lambda: gateway.bills_top(g.DEMO_POSTPAID_CONTRACT)),
            ("sap_accounts_by_phone", lambda: gateway.sap_accounts_by_phone("771234567")),
        ):
            await call()
            began = time.perf_counter()
            for _ in range(20):
                await call()
            print(f"  {name:24} {(time.perf_counter() - began) / 20 * 1000:.1f} ms")
    finally:
        await gateway.dispose()
    if not keep:
        admin = await asyncpg.connect(asyncpg_dsn(url.rsplit("/", 1)[0] + "/postgres"))
        try:
            name = url.rsplit("/", 1)[1]
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument(
        "--url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/samaconso_bench_legacy"
    )
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.url, args.customers, args.keep))
