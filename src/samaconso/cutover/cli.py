"""``samaconso import-v2 --from <v2 PostgreSQL URL> [--dry-run] [--since <ISO time>]``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from samaconso.settings import get_settings


def _since(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"date ISO 8601 attendue (ex. 2026-12-01T06:00:00Z), reçu {value!r}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def cmd_import_v2(args: argparse.Namespace) -> None:
    from samaconso.cutover.importer import ImportOptions, run_import

    settings = get_settings()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report_path = (
        Path(args.report) if args.report else settings.data_dir / "cutover" / f"import-v2-{stamp}.json"
    )
    options = ImportOptions(
        v2_url=args.source,
        dry_run=args.dry_run,
        since=args.since,
        batch_size=args.batch,
        progress=not args.no_progress,
        consult_legacy=not args.no_legacy,
        report_path=report_path,
    )
    try:
        report = asyncio.run(run_import(settings, options))
    except psycopg.OperationalError as exc:  # never the URL or its password: only what failed
        print(
            f"import-v2 : base injoignable ou refusée ({type(exc).__name__}) — rien n'a été écrit.",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    print(("[dry run] " if args.dry_run else "") + f"import-v2 en {report.timings_s['total']:.1f} s")
    print(report.summary())
    print(f"rapport JSON : {report_path}", file=sys.stderr)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("import-v2", help="import the SamaConso v2 database (idempotent)")
    p.add_argument(
        "--from", dest="source", required=True, help="PostgreSQL URL of the v2 database (read only)"
    )
    p.add_argument("--dry-run", action="store_true", help="do everything, report, then roll back")
    p.add_argument(
        "--since",
        type=_since,
        default=None,
        help="delta run (ISO time of the full import, kept in the report): reads only the v2 rows that "
        "differ from what the last import read (fingerprints), deleted ones included",
    )
    p.add_argument("--report", default=None, help="where to write the JSON report")
    p.add_argument("--batch", type=int, default=10_000, help="v2 rows per fetch / COPY batch")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--no-legacy", action="store_true", help="do not ask the legacy system the meters' phones")
    p.set_defaults(func=cmd_import_v2)
