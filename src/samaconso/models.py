"""Every ORM table of the application, gathered for Alembic and the tests.

Each domain (``samaconso/domains.py``) keeps its tables in ``samaconso.<domain>.models``; importing
this module imports them all.
"""

from __future__ import annotations

import importlib

from samaconso import domains
from samaconso.kit.db import Base


def load_all_models() -> type[Base]:
    for name in domains.modules("models"):
        importlib.import_module(name)
    return Base


metadata = load_all_models().metadata
