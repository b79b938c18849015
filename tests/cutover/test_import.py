"""``samaconso import-v2`` against a v2 database built from V2.md: twice without duplicates, a dry run
that writes nothing, a ``--since`` delta, and the report's counts and reasons."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from samaconso.cutover import import_context
from samaconso.cutover.v2_generator import GeneratedV2
from samaconso.kit.db import Database
from tests.cutover.conftest import V2_URL, import_v2

COUNTED = (
    "users",
    "agencies",
    "meters",
    "meter_links",
    "devices",
    "notifications",
    "customer_requests",
    "request_events",
    "cutover_v2_ids",
    "cutover_v2_rows",
)


async def _counts(db: Database) -> dict[str, int]:
    out: dict[str, int] = {}
    async with db.engine.connect() as conn:
        for table in COUNTED:
            query = text(f"SELECT count(*) FROM {table}")  # noqa: S608 - constant table names
            out[table] = int((await conn.execute(query)).scalar_one())
    return out


async def test_import_twice_never_duplicates(
    imported: dict[str, Any], db: Database, v2_source: GeneratedV2, tmp_path: Path
) -> None:
    first = await _counts(db)
    users = imported["tables"]["user"]
    # every v2 user row is accounted for: new, merged into another account, or skipped with a reason
    assert users["read"] == v2_source.users
    assert users["imported"] + users["merged"] + users["skipped"] == users["read"]
    assert users["skipped_by_reason"]["invalid_phone"] >= 1
    assert users["merged"] >= 2  # the scenario's two older accounts on the same phone
    links = imported["tables"]["user_compteur"]
    assert links["skipped_by_reason"]["orphan_user"] >= 1
    assert links["merged"] >= 1  # duplicate links of one (user, meter)
    assert imported["tables"]["demande"]["skipped_by_reason"]["orphan_requester"] == 1
    assert first["users"] == users["imported"]
    again = await import_v2(tmp_path)
    assert await _counts(db) == first
    for table, counts in again["tables"].items():
        if table != "agence":
            assert counts["imported"] == 0, (table, counts)
    assert again["tables"]["user"]["updated"] == users["imported"]
    async with db.engine.connect() as conn:
        phones = (
            await conn.execute(
                text("SELECT count(*), count(DISTINCT phone) FROM users WHERE phone IS NOT NULL")
            )
        ).one()
        runs = (await conn.execute(text("SELECT count(*) FROM cutover_runs"))).scalar_one()
    assert phones[0] == phones[1]
    assert runs == 2


async def test_dry_run_reports_and_writes_nothing(
    db: Database,
    agencies: dict[str, Any],
    v2_source: GeneratedV2,
    legacy_phones: dict[str, str],
    tmp_path: Path,
) -> None:
    dry = await import_v2(tmp_path, "--dry-run")
    assert dry["dry_run"] is True
    assert dry["tables"]["user"]["imported"] > 100
    assert (await _counts(db))["users"] == 0
    real = await import_v2(tmp_path)
    assert {t: c["imported"] for t, c in real["tables"].items()} == {
        t: c["imported"] for t, c in dry["tables"].items()
    }


async def test_since_imports_only_what_changed(
    imported: dict[str, Any], db: Database, tmp_path: Path
) -> None:
    with psycopg.connect(V2_URL, autocommit=True) as conn:
        (new_id,) = conn.execute(
            'INSERT INTO "user" ("firstName", "lastName", "phoneNumber", "codePin", role, is_activate, created_at)'
            " SELECT 'Nouveau', 'Client', '77 999 88 77', \"codePin\", 1, true, NULL FROM \"user\" WHERE id = 1"
            " RETURNING id"
        ).fetchone() or (0,)
        conn.execute('UPDATE "user" SET "lastName" = \'Diop-Sarr\', updated_at = now() WHERE id = 1')
    try:
        # whatever --since says (here: a time no v2 clock reaches), the delta reads the rows that
        # differ from what the full import read: the new account and the edited one
        delta = await import_v2(tmp_path, "--since", "2099-01-01T00:00:00Z")
        users = delta["tables"]["user"]
        assert users["read"] == 2
        assert (users["imported"], users["updated"]) == (1, 1)
        assert delta["facts"]["delta_changed_user"] == 2
        async with db.engine.connect() as conn:
            row = (
                await conn.execute(text("SELECT last_name FROM users WHERE phone = '+221771112233'"))
            ).one()
            assert row.last_name == "Diop-Sarr"
            assert (
                await conn.execute(text("SELECT count(*) FROM users WHERE phone = '+221779998877'"))
            ).scalar_one() == 1
        again = await import_v2(tmp_path, "--since", "2020-01-01")
        assert again["tables"]["user"]["read"] == 0
    finally:
        with psycopg.connect(V2_URL, autocommit=True) as conn:
            conn.execute('DELETE FROM "user" WHERE id = %s', (new_id,))
            conn.execute('UPDATE "user" SET "lastName" = \'Diop\' WHERE id = 1')


async def test_agencies_matched_by_legacy_name(imported: dict[str, Any], db: Database) -> None:
    agencies = imported["tables"]["agence"]
    assert agencies["imported"] == 1  # KEDOUGOU is not in v3's list: created
    assert agencies["merged"] == 1  # DAKAR CENTRE appears twice in v2
    async with db.engine.connect() as conn:
        names = set((await conn.execute(text("SELECT legacy_name FROM agencies"))).scalars())
    assert "KEDOUGOU" in names


async def test_v2_is_never_written(imported: dict[str, Any]) -> None:
    with psycopg.connect(V2_URL) as conn:
        count = conn.execute('SELECT count(*) FROM "user"').fetchone()
        assert count is not None
        assert count[0] > 0
        # the import's own connection refuses writes; v2 still has its rows and no new table
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        assert tables == (13,)


async def _schema(db: Database) -> set[tuple[str, str]]:
    async with db.engine.connect() as conn:
        indexes = (
            await conn.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"))
        ).all()
        keys = (
            await conn.execute(
                text(
                    "SELECT conrelid::regclass::text || '.' || conname, pg_get_constraintdef(oid) FROM pg_constraint"
                    " WHERE connamespace = 'public'::regnamespace"
                )
            )
        ).all()
    return {(str(a), str(b)) for a, b in [*indexes, *keys]}


async def test_bulk_load_gives_the_same_import_and_schema(
    db: Database,
    agencies: dict[str, Any],
    v2_source: GeneratedV2,
    legacy_phones: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The national-scale path (plain indexes and foreign keys dropped, rebuilt after the write),
    forced here on the small v2: same counts as the row-by-row path, every index and key back."""
    before = await _schema(db)
    row_by_row = await import_v2(tmp_path, "--dry-run")
    assert not any(k.startswith("bulk_loaded_") for k in row_by_row["facts"])
    monkeypatch.setattr(import_context, "BULK_MIN_ROWS", 1)
    bulk = await import_v2(tmp_path)
    assert bulk["facts"]["bulk_loaded_meter_links"] > 0
    assert bulk["facts"]["bulk_loaded_users"] > 0
    assert {t: (c["imported"], c["merged"], c["skipped"]) for t, c in bulk["tables"].items()} == {
        t: (c["imported"], c["merged"], c["skipped"]) for t, c in row_by_row["tables"].items()
    }
    assert await _schema(db) == before
    counts = await _counts(db)
    assert counts["meter_links"] == bulk["tables"]["user_compteur"]["imported"]
    assert counts["users"] == bulk["tables"]["user"]["imported"]
