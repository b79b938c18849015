"""Fixtures of the hardening tests (issue 12)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from samaconso.kit.ratelimit import RateLimiter
from tests.support.redis62 import start_redis62


@pytest.fixture(scope="module")
def redis62_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, url = start_redis62(tmp_path_factory.mktemp("redis62"))
    yield url
    proc.stop()


@pytest.fixture
async def limiter_on_62(app: FastAPI, redis62_url: str) -> AsyncIterator[Redis]:
    """The app's rate limiter talks to the embedded profile's Redis 6.2 for this test."""
    redis = Redis.from_url(redis62_url, socket_timeout=1.0, socket_connect_timeout=1.0)
    await redis.flushdb()
    with swapped_limiter(app, RateLimiter(redis)):
        yield redis
    await redis.aclose()


@contextmanager
def swapped_limiter(app: FastAPI, limiter: RateLimiter) -> Iterator[None]:
    """Starlette's State keeps attributes in a dict (monkeypatch cannot restore them)."""
    old = app.state.rate_limiter
    app.state.rate_limiter = limiter
    try:
        yield
    finally:
        app.state.rate_limiter = old
