"""Bring a database to the current schema and load the reference/demo data.

Used by the ``samaconso migrate`` and ``seed`` commands, by ``samaconso run`` (embedded stack) and by
the tests; it sits below both the CLI and the embedded runner so that neither imports the other.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from samaconso import domains
from samaconso.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def alembic_config(database_url: str | None = None) -> Any:
    from alembic.config import Config

    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    if database_url:
        cfg.attributes["database_url"] = database_url
    return cfg


def migrate(database_url: str | None = None) -> None:
    from alembic import command

    command.upgrade(alembic_config(database_url), "head")


async def run_seeders(settings: Settings) -> list[str]:
    """Run every domain's ``seed(db, settings)``; each returns lines describing the demo data."""
    from samaconso.kit.db import Database

    db = Database(settings)
    lines: list[str] = []
    try:
        for name in domains.modules("seed"):
            module = importlib.import_module(name)
            lines.extend(await module.seed(db, settings))
    finally:
        await db.dispose()
    return lines
