"""Cutover import benchmark at national scale (``make bench-import``).

1. builds a v2 database of ``--users`` (default 1 000 000) accounts with the messy shapes of V2.md
   (``samaconso.cutover.v2_generator``: phone forms, duplicates, NULLs, orphan links, shared tokens,
   a handful of precomputed bcrypt hashes) in a scratch database ``bench_v2_<pid>``;
2. builds an empty v3 database ``bench_v3_<pid>`` (Alembic) and a small simulated legacy source
   ``bench_v3_<pid>_legacy`` (the owners' phone look-ups really run, in bulk);
3. times ``samaconso import-v2`` (the real command, a child process) on the full database, sampling
   the child's RSS every 0.5 s (peak and at each quarter of the run: flat memory or not);
4. changes 1 % of the v2 users (name + ``updated_at``), adds 0.1 % new ones with a link and a
   session, and makes the changes v2 records with no timestamp (links approved, sessions signed
   out, requests taken up) and deletions (links), then times ``import-v2 --since <before the
   change>`` (the cutover's final delta: it finds them all by fingerprint);
5. prints the figures (with the machine's load average) and writes them to ``bench/results/``;
   drops the scratch databases (``--keep`` to keep them).

    python -m bench.import_v2 [--users 1000000] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import psycopg

ADMIN_DSN = os.environ.get("BENCH_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
SAMACONSO = str(Path(sys.executable).parent / "samaconso")
RESULTS = Path(__file__).parent / "results"


def _dsn(db: str) -> str:
    return ADMIN_DSN.rsplit("/", 1)[0] + f"/{db}"


def _admin(sql: str) -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def run_import(v3_db: str, v2_url: str, report: Path, *extra: str) -> dict[str, Any]:
    """Run ``samaconso import-v2`` as a child process; wall time, RSS samples and its report."""
    env = {
        **os.environ,
        "SAMACONSO_DATABASE_URL": _dsn(v3_db).replace("postgresql://", "postgresql+asyncpg://", 1),
        "SAMACONSO_LOG_LEVEL": "WARNING",
        "SAMACONSO_PROFILE": os.environ.get("SAMACONSO_PROFILE", "test"),
        "SAMACONSO_S3_ENDPOINT_URL": "http://127.0.0.1:9",  # no v2 bucket here: attachments listed missing
    }
    argv = [SAMACONSO, "import-v2", "--from", v2_url, "--report", str(report), "--no-progress", *extra]
    started = time.monotonic()
    child = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    proc = psutil.Process(child.pid)
    samples: list[tuple[float, int]] = []
    while child.poll() is None:
        try:
            samples.append((time.monotonic() - started, proc.memory_info().rss))
        except psutil.Error:
            pass
        time.sleep(0.5)
    output = child.stdout.read() if child.stdout else ""
    wall = time.monotonic() - started
    if child.returncode != 0:
        print(output)
        raise SystemExit(f"import-v2 failed ({child.returncode})")
    rss = [r for _, r in samples] or [0]
    quarters = {}
    for q in (0.25, 0.5, 0.75, 1.0):
        inside = [r for t, r in samples if t <= wall * q] or [0]
        quarters[f"{int(q * 100)}%"] = round(max(inside) / 2**20, 1)
    return {
        "wall_s": round(wall, 1),
        "peak_rss_mib": round(max(rss) / 2**20, 1),
        "peak_rss_mib_by_quarter": quarters,
        "report": json.loads(report.read_text(encoding="utf-8")),
        "output": output,
    }


def make_delta(v2_url: str, share: float) -> dict[str, int]:
    """Change ``share`` of the v2 users and add a tenth of that many new customers."""
    with psycopg.connect(v2_url, autocommit=True) as conn:
        (total,) = conn.execute('SELECT count(*) FROM "user"').fetchone() or (0,)
        changed = int(total * share)
        conn.execute(
            'UPDATE "user" SET "lastName" = coalesce("lastName", \'\') || \' (modifié)\', updated_at = now()'
            ' WHERE id IN (SELECT id FROM "user" ORDER BY random() LIMIT %s)',
            (changed,),
        )
        added = max(1, changed // 10)
        conn.execute(
            'INSERT INTO "user" ("firstName", "lastName", "phoneNumber", "codePin", role, is_activate,'
            " created_at, updated_at)"
            " SELECT 'Nouveau', 'Client', '70 9' || lpad(g::text, 6, '0'), (SELECT \"codePin\" FROM \"user\""
            ' WHERE "codePin" IS NOT NULL LIMIT 1), 1, true, now(), now() FROM generate_series(1, %s) g',
            (added,),
        )
        conn.execute(
            "INSERT INTO user_compteur (compteur_id, type_compteur, user_id, est_proprietaire, est_active,"
            ' numero_compteur, "default", created_at)'
            " SELECT NULL, 1, id, true, true, '15' || lpad(id::text, 9, '0'), true, now() FROM \"user\""
            " WHERE \"firstName\" = 'Nouveau' AND created_at > now() - interval '1 hour'"
        )
        conn.execute(
            "INSERT INTO user_session (user_id, device_model, fcm_token, is_active, last_login)"
            " SELECT id, 'Tecno Spark', 'delta-token-' || id, true, now() FROM \"user\""
            " WHERE \"firstName\" = 'Nouveau' AND created_at > now() - interval '1 hour'"
        )
        # changes v2 makes with no timestamp at all (only the fingerprints see them)
        approved = conn.execute(
            "UPDATE user_compteur SET est_active = true WHERE id IN (SELECT id FROM user_compteur"
            " WHERE est_active IS false ORDER BY id LIMIT %s)",
            (max(1, changed // 10),),
        ).rowcount
        signed_out = conn.execute(
            "UPDATE user_session SET is_active = false WHERE id IN (SELECT id FROM user_session"
            " WHERE is_active AND coalesce(fcm_token, '') <> '' ORDER BY random() LIMIT %s)",
            (max(1, changed // 10),),
        ).rowcount
        taken_up = conn.execute(
            'UPDATE demande SET traite_par = (SELECT id FROM "user" WHERE role = 3 ORDER BY id LIMIT 1)'
            " WHERE id IN (SELECT id FROM demande WHERE traite_par IS NULL ORDER BY random() LIMIT %s)",
            (max(1, changed // 100),),
        ).rowcount
        deleted = conn.execute(
            "DELETE FROM user_compteur WHERE id IN (SELECT id FROM user_compteur ORDER BY random() LIMIT %s)",
            (max(1, changed // 100),),
        ).rowcount
    return {
        "users_changed": changed,
        "users_added": added,
        "links_approved_no_timestamp": approved,
        "sessions_signed_out_no_timestamp": signed_out,
        "requests_taken_up_no_timestamp": taken_up,
        "links_deleted": deleted,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--delta", type=float, default=0.01)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    from samaconso.cli import migrate
    from samaconso.cutover.v2_generator import generate
    from samaconso.legacy.generator import load

    tag = os.getpid()
    v2_db, v3_db = f"bench_v2_{tag}", f"bench_v3_{tag}"
    v2_url = _dsn(v2_db)
    out: dict[str, Any] = {"users": args.users, "machine_before": _load()}
    for name in (v2_db, v3_db):
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _admin(f'CREATE DATABASE "{name}"')
    try:
        print(f"v2 database: {args.users} users … ({_load()})", flush=True)
        started = time.monotonic()
        made = generate(v2_url, args.users, seed=2026)
        out["generate_s"] = round(time.monotonic() - started, 1)
        out["v2_rows"] = {
            "user": made.users,
            "user_compteur": made.links,
            "user_session": made.sessions,
            "notification": made.notifications,
            "demande": made.requests,
        }
        print(f"  generated in {out['generate_s']} s: {out['v2_rows']}", flush=True)
        migrate(_dsn(v3_db).replace("postgresql://", "postgresql+asyncpg://", 1))
        import asyncio

        asyncio.run(load(_dsn(f"{v3_db}_legacy").replace("postgresql://", "postgresql+asyncpg://", 1), 200))
        with psycopg.connect(_dsn(v3_db), autocommit=True) as conn:
            from samaconso.identity.seed import AGENCIES, legacy_key

            for code, name, region in AGENCIES:
                conn.execute(
                    "INSERT INTO agencies (id, code, name, region, legacy_name) VALUES (gen_random_uuid(), %s, %s, %s, %s)",
                    (code, name, region, legacy_key(name)),
                )
        print(f"full import … ({_load()})", flush=True)
        RESULTS.mkdir(exist_ok=True)
        out["machine_full"] = _load()
        full = run_import(v3_db, v2_url, RESULTS / "import-v2-full.json")
        out["full"] = {k: v for k, v in full.items() if k not in ("report", "output")}
        out["full_report_tables"] = full["report"]["tables"]
        out["full_timings_s"] = full["report"]["timings_s"]
        print(full["output"], flush=True)
        print(
            f"  full import: {full['wall_s']} s, peak RSS {full['peak_rss_mib']} MiB "
            f"{full['peak_rss_mib_by_quarter']}",
            flush=True,
        )
        since = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
        time.sleep(6)
        out["delta_change"] = make_delta(v2_url, args.delta)
        out["machine_delta"] = _load()
        delta = run_import(v3_db, v2_url, RESULTS / "import-v2-delta.json", "--since", since)
        out["delta"] = {k: v for k, v in delta.items() if k not in ("report", "output")}
        out["delta_report_tables"] = delta["report"]["tables"]
        out["delta_timings_s"] = delta["report"]["timings_s"]
        print(delta["output"], flush=True)
        print(f"  delta import: {delta['wall_s']} s, peak RSS {delta['peak_rss_mib']} MiB", flush=True)
        with psycopg.connect(_dsn(v3_db)) as conn:
            out["v3_rows"] = {
                t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]  # noqa: S608
                for t in ("users", "meters", "meter_links", "devices", "notifications", "customer_requests")
            }
        out["machine_after"] = _load()
        (RESULTS / "import-v2-bench.json").write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
        print(json.dumps({k: v for k, v in out.items() if "report" not in k}, indent=2, ensure_ascii=False))
    finally:
        if not args.keep:
            for name in (v2_db, v3_db, f"{v3_db}_legacy"):
                _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
