"""``schemathesis`` as its console script runs it, with one guard: ``ast.parse`` is serialised.

Schemathesis's workers are threads, and its coverage phase describes hypothesis filters by parsing
their source; on CPython 3.11 two threads inside ``ast.parse`` at once can fail with
``SystemError: AST constructor recursion depth mismatch`` (cpython gh-106905) — a crash of the
tool, not a finding about the API. One lock around ``ast.parse`` keeps two workers without it."""

from __future__ import annotations

import ast
import sys
import threading
from typing import Any

from schemathesis.cli import schemathesis

_original_parse = ast.parse
_lock = threading.Lock()


def _parse(*args: Any, **kwargs: Any) -> Any:
    with _lock:
        return _original_parse(*args, **kwargs)


if __name__ == "__main__":
    ast.parse = _parse
    sys.exit(schemathesis())
