"""Lockouts that tell nothing and grow for repeat offenders, and code quotas one requester cannot
turn against a phone's owner.

- A real account locks after ``pin_max_failures`` wrong tries for ``lockout_seconds(n)``, where
  ``n`` is how many times it was already locked in the last 24 hours: 15 min, 30 min, 1 h, 2 h …
  capped at 24 h (so ~40 guesses a day instead of ~480).
- A phone or staff login without an account ("phantom") follows the very same arithmetic in Redis:
  same statuses, same ``Retry-After`` at the locking try and while locked.
- One-time codes: a requester (IP) gets ``otp_max_per_hour`` codes per phone per hour; a phone gets
  at most ``OTP_PHONE_MAX_PER_HOUR`` from everyone, and beyond one requester's quota each further
  code of the hour waits 60 s, 120 s, 240 s after the previous one. Someone else asking codes for
  your number delays you by a minute or two, never blocks you for an hour by three requests.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from redis.exceptions import RedisError

from samaconso.kit.ratelimit import RateLimiter, limiter_unavailable
from samaconso.settings import Settings

ESCALATION_WINDOW = timedelta(hours=24)
MAX_LOCKOUT_S = 24 * 3600
OTP_PHONE_MAX_PER_HOUR = 6
OTP_BACKOFF_BASE_S = 60

# KEYS: fails, lock, locks. ARGV: max failures, base lockout s, max lockout s, escalation window s.
# Returns {0, 0} for a counted failure, {1, seconds} when locked (now or still).
_PHANTOM = """
local left = redis.call('PTTL', KEYS[2])
if left > 0 then return {1, math.ceil(left / 1000)} end
local fails = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
if fails < tonumber(ARGV[1]) then return {0, 0} end
redis.call('DEL', KEYS[1])
local n = redis.call('INCR', KEYS[3])
if redis.call('TTL', KEYS[3]) < 0 then redis.call('EXPIRE', KEYS[3], ARGV[4]) end
local seconds = math.min(tonumber(ARGV[2]) * 2 ^ (n - 1), tonumber(ARGV[3]))
seconds = math.floor(seconds)
redis.call('SET', KEYS[2], '1', 'EX', seconds)
return {1, seconds}
"""


def lockout_seconds(settings: Settings, previous_lockouts: int) -> int:
    """Length of the next lockout after ``previous_lockouts`` in the escalation window."""
    exponent = min(max(0, previous_lockouts), 20)
    return int(min(settings.pin_lockout_s * 2**exponent, MAX_LOCKOUT_S))


async def phantom_failure(limiter: RateLimiter, settings: Settings, key: str) -> int | None:
    """Count a failure against an account that does not exist. Returns the lockout seconds to
    announce (423) or None for a plain "wrong credentials". 503 when Redis cannot count."""
    script = limiter.redis.register_script(_PHANTOM)
    base = limiter.prefix + "phantom:" + key
    try:
        locked, seconds = await script(
            keys=[base + ":fails", base + ":lock", base + ":locks"],
            args=[
                settings.pin_max_failures,
                settings.pin_lockout_s,
                MAX_LOCKOUT_S,
                int(ESCALATION_WINDOW.total_seconds()),
            ],
        )
    except (RedisError, OSError) as exc:
        raise limiter_unavailable() from exc
    return int(seconds) if int(locked) else None


def otp_wait_s(
    settings: Settings,
    now: datetime,
    *,
    total: int,
    from_requester: int,
    oldest_from_requester: datetime | None,
    oldest: datetime | None,
    latest: datetime | None,
) -> int | None:
    """Seconds this requester must wait before another code to this phone, or None to send now."""
    hour = timedelta(hours=1)
    if from_requester >= settings.otp_max_per_hour and oldest_from_requester is not None:
        return max(1, math.ceil((oldest_from_requester + hour - now).total_seconds()))
    if total >= OTP_PHONE_MAX_PER_HOUR and oldest is not None:
        return max(1, math.ceil((oldest + hour - now).total_seconds()))
    if total >= settings.otp_max_per_hour and latest is not None:
        gap = timedelta(seconds=OTP_BACKOFF_BASE_S * 2 ** (total - settings.otp_max_per_hour))
        if latest + gap > now:
            return max(1, math.ceil((latest + gap - now).total_seconds()))
    return None
