"""The simulated legacy source: the SQL Server tables as PostgreSQL schemas ``sic``, ``histh2mc`` and
``bi_ods`` of one database, plus ``month()``/``year()`` so the T-SQL built-ins the queries use exist.
"""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import Connection, Index, make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from samaconso.legacy.tables import (
    LOGICAL_SCHEMAS,
    SIMULATED_SCHEMA_MAP,
    adr2,
    adr6,
    avis_etapes,
    but000,
    compteurs_postpaid,
    fkkvkp,
    historique,
    infos_administratives,
    infos_administratives_new,
    legacy_metadata,
    senelecbill,
)

# Indexes the real databases have on the columns the queries filter on; created after bulk loads.
INDEXES = (
    Index("ix_sim_bill_meter_date", senelecbill.c.NUMERO_COMPTEUR, senelecbill.c.DATE_TRANSACTION),
    Index("ix_sim_admin_meter", infos_administratives.c.MT_COMM_ADDR),
    Index("ix_sim_admin_phone", infos_administratives.c.TELEPHONE),
    Index("ix_sim_admin_new_meter", infos_administratives_new.c["N° COMPTEUR"]),
    Index("ix_sim_postpaid_contract", compteurs_postpaid.c["COMPTE CONTRAT"]),
    Index("ix_sim_hist_cc_date", historique.c.numCC, historique.c.DATFACT),
    Index("ix_sim_but000_partner", but000.c.PARTNER),
    Index("ix_sim_adr2_phone", adr2.c.TELNR_CALL),
    Index("ix_sim_adr6_addr", adr6.c.ADDRNUMBER),
    Index("ix_sim_fkkvkp_gpart", fkkvkp.c.GPART),
    Index("ix_sim_avis_num", avis_etapes.c.NUM_AVIS),
)

_TSQL_BUILTINS = (
    "CREATE OR REPLACE FUNCTION public.month(timestamp) RETURNS integer "
    "LANGUAGE sql IMMUTABLE AS 'SELECT extract(month FROM $1)::integer'",
    "CREATE OR REPLACE FUNCTION public.year(timestamp) RETURNS integer "
    "LANGUAGE sql IMMUTABLE AS 'SELECT extract(year FROM $1)::integer'",
    "CREATE OR REPLACE FUNCTION public.month(date) RETURNS integer "
    "LANGUAGE sql IMMUTABLE AS 'SELECT extract(month FROM $1)::integer'",
    "CREATE OR REPLACE FUNCTION public.year(date) RETURNS integer "
    "LANGUAGE sql IMMUTABLE AS 'SELECT extract(year FROM $1)::integer'",
)


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def ensure_database(url: str) -> None:
    """Create the simulated source's database if missing (as its owner, or as ``postgres``)."""
    target = make_url(url)
    name = target.database or ""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a plain database name: {name!r}")
    candidates = [
        target.set(database="postgres"),
        target.set(database="postgres", username="postgres", password=None),
    ]
    last_error: Exception | None = None
    for admin in candidates:
        try:
            conn = await asyncpg.connect(asyncpg_dsn(admin.render_as_string(hide_password=False)), timeout=10)
        except Exception as exc:
            last_error = exc
            continue
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not exists:
                owner = target.username or "postgres"
                try:
                    await conn.execute(f'CREATE DATABASE "{name}" OWNER "{owner}"')
                except asyncpg.PostgresError as exc:
                    last_error = exc
                    continue
            return
        finally:
            await conn.close()
    raise RuntimeError(f"cannot create the simulated legacy database {name!r}") from last_error


async def create_schema(url: str, *, drop: bool = False) -> None:
    """Schemas, T-SQL built-ins and tables (empty); ``drop`` starts from nothing."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            for schema in LOGICAL_SCHEMAS:
                if drop:
                    await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            for statement in _TSQL_BUILTINS:
                await conn.execute(text(statement))
            conn_map = await conn.execution_options(schema_translate_map=SIMULATED_SCHEMA_MAP)
            await conn_map.run_sync(legacy_metadata.create_all)
    finally:
        await engine.dispose()


def _create_index(sync_conn: Connection, index: Index) -> None:
    index.create(sync_conn, checkfirst=True)


async def create_indexes(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            for index in INDEXES:
                await conn.run_sync(_create_index, index)
            await conn.execute(text("ANALYZE"))
    finally:
        await engine.dispose()
