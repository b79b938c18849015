"""The one list of domains, read by the app (routers), the models (Alembic), the CLI (commands and
seeders) and the worker (task modules). Add a domain here and everything finds its rooms."""

from __future__ import annotations

import importlib.util

# In dependency order: seeders run in this order (agencies and users first, then the legacy
# source the meters are checked against...), routers are mounted in this order.
DOMAINS: tuple[str, ...] = (
    "identity",
    "legacy",
    "meters",
    "consumption",
    "tariffs",
    "notifications",
    "requests",
    "files",
    "subscriptions",
    "dashboard",
    "cutover",
    "outages",
    "console",
)


def modules(room: str) -> list[str]:
    """``samaconso.<domain>.<room>`` for every domain that has that room (``router``, ``models``,
    ``tasks``, ``seed``, ``cli``), in :data:`DOMAINS` order."""
    return [
        f"samaconso.{domain}.{room}"
        for domain in DOMAINS
        if importlib.util.find_spec(f"samaconso.{domain}.{room}") is not None
    ]
