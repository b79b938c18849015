"""Cutover fixtures: a small v2 database built from V2.md by the generator (once per session), the
legacy phones of its scenario meters in the simulated SIC, and ``samaconso import-v2`` runs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from samaconso.cli import main as samaconso_main
from samaconso.cutover.import_context import psycopg_url
from samaconso.cutover.v2_generator import GeneratedV2, generate
from samaconso.identity.models import Agency
from samaconso.kit.db import Database
from tests.notifications.conftest import settings_overrides, start_api, start_worker, worker
from tests.support import env
from tests.support.legacy import LegacySource

__all__ = [
    "settings_overrides",
    "start_api",
    "start_worker",
    "worker",
]

V2_DB = f"{env.TEST_DB}_v2"
V2_URL = f"postgresql://postgres@127.0.0.1:5432/{V2_DB}"
BULK_USERS = 150


def _admin(sql: str) -> None:
    with psycopg.connect(env.PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture(scope="session")
def v2_source() -> Iterator[GeneratedV2]:
    _admin(f'DROP DATABASE IF EXISTS "{V2_DB}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{V2_DB}"')
    yield generate(V2_URL, BULK_USERS, seed=14)
    _admin(f'DROP DATABASE IF EXISTS "{V2_DB}" WITH (FORCE)')


@pytest.fixture
async def legacy_phones(legacy_source: LegacySource, v2_source: GeneratedV2) -> AsyncIterator[dict[str, str]]:
    """What SIC says about the scenario's prepaid meters: the phone, written its own way. Written for
    each test (other tests reseed the shared simulated source, so rows kept for a session vanished)."""
    s = v2_source.scenario
    rows = {s.prepaid_meter: "771112233", s.shared_meter: "+221 78 000 00 01"}
    with psycopg.connect(psycopg_url(legacy_source.url), autocommit=True) as conn:
        conn.execute(
            'DELETE FROM sic."HEXING_INFOS_ADMINISTRATIVES_NEW" WHERE "N° COMPTEUR" = ANY(%s)', (list(rows),)
        )
        conn.execute('DELETE FROM sic.compteurs_postpaid WHERE "COMPTE CONTRAT" = %s', (s.postpaid_contract,))
        for number, tel in rows.items():
            conn.execute(
                'INSERT INTO sic."HEXING_INFOS_ADMINISTRATIVES_NEW" ("N° COMPTEUR", "POC", "TEL", "CLIENT", "AGENCE")'
                " VALUES (%s, %s, %s, 'CLIENT V2', 'DAKAR CENTRE')",
                (number, f"P{number[-5:]}", tel),
            )
        conn.execute(
            'INSERT INTO sic.compteurs_postpaid ("TELEPHONE", "COMPTE CONTRAT", "CLIENT", "AGENCE")'
            " VALUES ('00221771112233', %s, 'CLIENT V2', 'THIES')",
            (s.postpaid_contract,),
        )
    yield rows
    with psycopg.connect(psycopg_url(legacy_source.url), autocommit=True) as conn:
        conn.execute(
            'DELETE FROM sic."HEXING_INFOS_ADMINISTRATIVES_NEW" WHERE "N° COMPTEUR" = ANY(%s)', (list(rows),)
        )
        conn.execute('DELETE FROM sic.compteurs_postpaid WHERE "COMPTE CONTRAT" = %s', (s.postpaid_contract,))


async def import_v2(tmp: Path, *extra: str) -> dict[str, Any]:
    """Run the real command (``samaconso import-v2``, its parser and code) and return its JSON report."""
    report = tmp / f"report-{len(list(tmp.glob('report-*.json')))}.json"
    argv = ["import-v2", "--from", V2_URL, "--report", str(report), "--no-progress", *extra]
    await asyncio.to_thread(samaconso_main, argv)
    data: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    return data


@pytest.fixture
async def imported(
    db: Database,
    agencies: dict[str, Agency],
    v2_source: GeneratedV2,
    legacy_phones: dict[str, str],
    tmp_path: Path,
) -> dict[str, Any]:
    """v3 emptied (with its reference agencies), then one full import of the v2 database."""
    return await import_v2(tmp_path)
