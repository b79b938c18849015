"""Dependency probes for ``/health/ready`` (each bounded by a short timeout)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio
from kombu import Connection
from sqlalchemy import text

from samaconso.kit.cache import Cache
from samaconso.kit.db import Database
from samaconso.kit.storage import Storage
from samaconso.settings import Settings

PROBE_TIMEOUT_S = 2.0

# Extra readiness details contributed by domains (e.g. the XMLVend certificate's days to expiry),
# listed by the app's wiring. Each returns a dict merged under ``details``; a failing provider never
# fails readiness by itself.
DetailProvider = Callable[[Settings], Awaitable[dict[str, Any]]]


async def _probe(name: str, check: Callable[[], Awaitable[object]]) -> tuple[str, dict[str, Any]]:
    start = time.perf_counter()
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            await check()
    except TimeoutError:
        return name, {"status": "down", "error": "timeout"}
    except Exception as exc:
        return name, {"status": "down", "error": type(exc).__name__}
    return name, {"status": "up", "latency_ms": round((time.perf_counter() - start) * 1000, 1)}


def _broker_check(url: str) -> None:
    with Connection(url, connect_timeout=PROBE_TIMEOUT_S, transport_options={"max_retries": 0}) as conn:
        conn.ensure_connection(max_retries=1, timeout=int(PROBE_TIMEOUT_S))


async def readiness(
    settings: Settings,
    db: Database,
    cache: Cache,
    storage: Storage,
    details_from: Sequence[DetailProvider] = (),
) -> dict[str, Any]:
    async def pg() -> None:
        async with db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def redis() -> None:
        await cache.redis.ping()

    async def broker() -> None:
        await anyio.to_thread.run_sync(_broker_check, settings.broker_url, abandon_on_cancel=True)

    async def s3() -> None:
        await storage.ping()

    results = await asyncio.gather(
        _probe("postgresql", pg), _probe("redis", redis), _probe("broker", broker), _probe("s3", s3)
    )
    checks = dict(results)
    details: dict[str, Any] = {}
    for provider in details_from:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_S):
                details.update(await provider(settings))
        except Exception as exc:
            details[getattr(provider, "__name__", "provider")] = {"error": type(exc).__name__}
    failing = sorted(name for name, res in checks.items() if res["status"] != "up")
    return {
        "status": "ready" if not failing else "unavailable",
        "failing": failing,
        "checks": checks,
        "details": details,
    }
