"""``import-v2``: the whole run. v2 is read in one read-only snapshot; v3 is written in one
transaction (COPY into temporary staging tables, then set-based upserts), committed at the end — or
rolled back for ``--dry-run``, which therefore reports exactly what a real run would do.

Idempotent: every v2 row brought across is recorded in ``cutover_v2_ids`` (v2 id → v3 id); a re-run
updates those rows and never creates them twice. ``--since`` (the final delta of the cutover) reads only
the v2 rows that changed since the last import — found by comparing each row's fingerprint with the
one that import kept (``cutover_v2_rows``), not by v2's clocks: a change without a timestamp, a new
row and a deleted row are all seen (each phase says what a deletion undoes in v3)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg
import structlog

from samaconso.cutover.import_context import ImportContext, Timer, psycopg_url
from samaconso.cutover.import_history import import_notifications, import_requests
from samaconso.cutover.import_meters import import_devices, import_links, recompute_owners
from samaconso.cutover.import_people import import_agencies, import_users
from samaconso.cutover.report import ImportReport
from samaconso.cutover.v2_reader import V2Reader
from samaconso.legacy.gateway import LegacyGateway
from samaconso.settings import Settings

log = structlog.get_logger(__name__)

# Only one import at a time writes v3 (a transaction-scoped advisory lock, PgBouncer-safe).
IMPORT_LOCK_KEY = 20_261_201


@dataclass(frozen=True)
class ImportOptions:
    v2_url: str
    dry_run: bool = False
    since: datetime | None = None
    batch_size: int = 10_000
    progress: bool = True
    consult_legacy: bool = True
    report_path: Path | None = None


async def _phases(ctx: ImportContext, report: ImportReport, gateway: LegacyGateway | None) -> None:
    with Timer(report, "agencies"):
        await import_agencies(ctx)
    with Timer(report, "users"):
        await import_users(ctx)
    with Timer(report, "links"):
        await import_links(ctx)
    with Timer(report, "owners"):
        await recompute_owners(ctx, gateway)
    with Timer(report, "devices"):
        await import_devices(ctx)
    with Timer(report, "notifications"):
        await import_notifications(ctx)
    with Timer(report, "requests"):
        await import_requests(ctx)


async def run_import(settings: Settings, options: ImportOptions) -> ImportReport:
    report = ImportReport(dry_run=options.dry_run, since=options.since.isoformat() if options.since else None)
    started = time.monotonic()
    v2 = await V2Reader.open(psycopg_url(options.v2_url))
    gateway = LegacyGateway.from_settings(settings) if options.consult_legacy else None
    try:
        async with await psycopg.AsyncConnection.connect(
            psycopg_url(settings.database_url),
            connect_timeout=10,
            # One long session: room for the staging tables in memory, big sorts for the merges.
            options="-c statement_timeout=0 -c temp_buffers=512MB -c work_mem=128MB",
            application_name="samaconso-import-v2",
        ) as v3:
            await v3.execute("SELECT pg_advisory_xact_lock(%s)", (IMPORT_LOCK_KEY,))
            ctx = ImportContext(
                settings=settings,
                v2=v2,
                v3=v3,
                report=report,
                since=options.since,
                dry_run=options.dry_run,
                batch_size=options.batch_size,
                progress=options.progress,
            )
            # The mapping gains about three rows per v2 user: a bulk load on the first full import.
            v2_users = int(await v2.scalar('SELECT count(*) FROM "user"') or 0)
            async with ctx.bulk_write("cutover_v2_ids", 3 * v2_users if options.since is None else 0):
                await _phases(ctx, report, gateway)
            report.timings_s["total"] = time.monotonic() - started
            if options.dry_run:
                await v3.rollback()
            else:
                await ctx.execute(
                    "INSERT INTO cutover_runs (id, started_at, finished_at, since, dry_run, report)"
                    " VALUES (gen_random_uuid(), now(), clock_timestamp(), %(since)s, false, %(report)s::jsonb)",
                    {"since": options.since, "report": json.dumps(report.to_json(), ensure_ascii=False)},
                )
                await v3.commit()
    finally:
        await v2.close()
        if gateway is not None:
            await gateway.dispose()
    report.timings_s["total"] = time.monotonic() - started
    log.info("import_v2_done", dry_run=options.dry_run, seconds=round(report.timings_s["total"], 1))
    if options.report_path is not None:
        report.write(options.report_path)
    return report
