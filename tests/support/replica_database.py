"""A stand-in for the streaming replica in tests: a second database built by the same migrations
(what ``pg_basebackup`` would copy), whose rows the test chooses, so that what the app shows says
which database it read."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy.engine import make_url

from tests.support import env


def admin_exec(statement: str) -> None:
    """One statement as the PostgreSQL administrator (CREATE / DROP / ALTER DATABASE)."""
    with psycopg.connect(env.PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(statement)


@contextmanager
def replica_database(name: str) -> Iterator[str]:
    """Create database ``name`` next to the test database, migrate it, yield its URL, drop it."""
    from samaconso.cli import migrate

    admin_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin_exec(f'CREATE DATABASE "{name}"')
    url = make_url(os.environ["SAMACONSO_DATABASE_URL"]).set(database=name)
    rendered = url.render_as_string(hide_password=False)
    migrate(rendered)
    try:
        yield rendered
    finally:
        admin_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
