"""``alembic upgrade head`` builds the whole schema from an empty database, matching the models."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from samaconso.cli import alembic_config, migrate
from samaconso.models import metadata
from tests.support import env

DB = f"{env.TEST_DB}_migrations"


@pytest.fixture
def empty_database() -> Iterator[str]:
    with psycopg.connect(env.PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB}"')
    yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DB}"
    with psycopg.connect(env.PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')


def test_upgrade_head_from_empty_matches_models(empty_database: str) -> None:
    migrate(empty_database)
    sync_url = empty_database.replace("+asyncpg", "+psycopg")
    engine = create_engine(sync_url)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            assert {t.name for t in metadata.sorted_tables} <= tables
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, metadata)
            assert diff == [], f"models and migrations drifted: {diff}"
    finally:
        engine.dispose()


def test_downgrade_to_base_and_back(empty_database: str) -> None:
    from alembic import command

    migrate(empty_database)
    cfg = alembic_config(empty_database)
    command.downgrade(cfg, "base")
    engine = create_engine(empty_database.replace("+asyncpg", "+psycopg"))
    try:
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    migrate(empty_database)
