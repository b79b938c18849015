"""Every ORM table of the application, gathered for Alembic and the tests.

Each domain keeps its tables in ``samaconso.<domain>.models``; importing this module imports them all.
"""

from __future__ import annotations

import importlib

from samaconso.kit.db import Base

MODEL_DOMAINS: tuple[str, ...] = (
    "identity",
    "meters",
    "consumption",
    "tariffs",
    "notifications",
    "requests",
    "files",
    "subscriptions",
    "dashboard",
)


def load_all_models() -> type[Base]:
    for domain in MODEL_DOMAINS:
        name = f"samaconso.{domain}.models"
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return Base


metadata = load_all_models().metadata
