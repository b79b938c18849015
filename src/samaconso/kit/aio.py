"""Run coroutines from synchronous code (Celery tasks, CLI) on one event loop per process.

Async resources such as asyncpg pools are bound to the loop that created them; a Celery prefork
child keeps a single loop for its whole life so those resources can be reused between tasks.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
_local = threading.local()


def process_loop() -> asyncio.AbstractEventLoop:
    loop: asyncio.AbstractEventLoop | None = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        _local.loop = loop
    return loop


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on this thread's persistent loop."""
    return process_loop().run_until_complete(coro)
