"""``samaconso legacy seed --customers N``: (re)build the simulated legacy source with a progress bar."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from samaconso.kit.extras import require
from samaconso.settings import get_settings


def cmd_seed(args: argparse.Namespace) -> None:
    tqdm = require("tqdm").tqdm

    from samaconso.legacy.gateway import simulated_url
    from samaconso.legacy.generator import load

    settings = get_settings()
    url = args.url or simulated_url(settings)
    with tqdm(total=args.customers, unit="clients", desc="legacy seed", smoothing=0.1) as bar:
        report = asyncio.run(
            load(
                url,
                args.customers,
                seed=args.seed,
                months=args.months,
                chunk_size=args.chunk,
                progress=bar.update,
            )
        )
    rows = sum(report.rows.values())
    print(f"{report.customers} clients (+ scénario de démo), {rows} lignes en {report.seconds:.1f} s")
    for table, count in sorted(report.rows.items()):
        print(f"  {table:34} {count:>12}")


def register(subparsers: Any) -> None:
    legacy = subparsers.add_parser("legacy", help="simulated legacy source (SIC, HISTH2MC, BI_ODS)")
    sub = legacy.add_subparsers(dest="legacy_command", required=True)
    p = sub.add_parser("seed", help="drop and rebuild the simulated legacy source with synthetic customers")
    p.add_argument("--customers", type=int, default=1000, help="random customers besides the demo scenario")
    p.add_argument("--months", type=int, default=6, help="months of purchase/bill history")
    p.add_argument("--seed", type=int, default=2026, help="random seed (same seed, same data)")
    p.add_argument("--chunk", type=int, default=5000, help="customers per COPY batch")
    p.add_argument("--url", default=None, help="target database (default: settings.legacy_simulated_url)")
    p.set_defaults(func=cmd_seed)
