"""Redis JSON cache with TTL. Fail-open: when Redis misbehaves the loader is called and a warning logged."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from samaconso.kit.metrics import CACHE_EVENTS

log = structlog.get_logger(__name__)
T = TypeVar("T")


def make_redis(url: str, timeout_s: float) -> Redis:
    return Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        health_check_interval=30,
        decode_responses=False,
    )


class Cache:
    def __init__(self, redis: Redis, prefix: str = "cache:") -> None:
        self.redis = redis
        self.prefix = prefix

    async def get(self, key: str) -> Any | None:
        try:
            raw = await self.redis.get(self.prefix + key)
        except (RedisError, OSError) as exc:
            CACHE_EVENTS.labels("error").inc()
            log.warning("cache_unavailable", op="get", key=key, error=type(exc).__name__)
            return None
        if raw is None:
            CACHE_EVENTS.labels("miss").inc()
            return None
        CACHE_EVENTS.labels("hit").inc()
        return json.loads(raw)

    async def set(self, key: str, value: Any, ttl_s: int) -> None:
        try:
            await self.redis.set(self.prefix + key, json.dumps(value, default=str), ex=ttl_s)
        except (RedisError, OSError) as exc:
            CACHE_EVENTS.labels("error").inc()
            log.warning("cache_unavailable", op="set", key=key, error=type(exc).__name__)

    async def delete(self, *keys: str) -> None:
        if not keys:
            return
        try:
            await self.redis.delete(*(self.prefix + k for k in keys))
        except (RedisError, OSError) as exc:
            log.warning("cache_unavailable", op="delete", error=type(exc).__name__)

    async def get_or_load(self, key: str, ttl_s: int, loader: Callable[[], Awaitable[T]]) -> T:
        """Return the cached JSON value of ``key`` or call ``loader`` and cache its (JSON-able) result."""
        cached = await self.get(key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        value = await loader()
        await self.set(key, value, ttl_s)
        return value
