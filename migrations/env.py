"""Alembic environment: async engine, URL from the application settings.

Migrations may run directly against PostgreSQL (``SAMACONSO_MIGRATION_DATABASE_URL``) rather than
through PgBouncer; either works since every migration runs in one transaction.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection

from samaconso.kit.db import make_engine
from samaconso.models import metadata
from samaconso.settings import get_settings

config = context.config


def _url() -> str:
    return (
        config.attributes.get("database_url")
        or os.environ.get("SAMACONSO_MIGRATION_DATABASE_URL")
        or get_settings().database_url
    )


def _do_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        compare_server_default=False,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = make_engine(get_settings(), url=_url(), pool_size=1)
    async with engine.connect() as connection:
        await connection.run_sync(_do_run)
    await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _do_run(connection)
        return
    asyncio.run(_run_async())


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
