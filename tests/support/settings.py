"""Per-test settings: a copy of the suite's settings with some fields changed, never the shared object.

A test (or a test package's ``conftest.py``) says which fields it needs in one of two ways; the
``settings`` fixture merges them (marker last) and the ``app`` fixture serves that copy:

* override the ``settings_overrides`` fixture (it may use other fixtures: a stand-in's URL)::

      @pytest.fixture
      def settings_overrides(directory: Directory) -> dict[str, object]:
          return {"ldap_enabled": True, "ldap_url": directory.url}

* mark one test::

      @pytest.mark.settings(broker_url="amqp://guest:guest@127.0.0.1:9//")

A test that needs a second configuration of the same deployment (vending switched off, another
certificate) starts one with the ``serve`` fixture: ``async with serve(override(settings, ...))``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from httpx import AsyncClient

from samaconso.settings import Settings

# The ``serve`` fixture: settings in, a client of an app started on them out (closed on exit).
Serve = Callable[[Settings], AbstractAsyncContextManager[AsyncClient]]


def override(settings: Settings, **fields: Any) -> Settings:
    """A copy of ``settings`` with ``fields`` replaced; unknown field names are an error (a typo
    must not leave the default in place silently)."""
    unknown = sorted(set(fields) - set(Settings.model_fields))
    if unknown:
        raise TypeError(f"not Settings fields: {', '.join(unknown)}")
    return settings.model_copy(update=fields)
