"""Point 1: rate limits hold on Redis 6.2 (embedded) and 7.x, atomically, and the limits that
protect accounts or spend money refuse (503) instead of letting everything through when Redis
cannot count."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from redis.asyncio import Redis

from samaconso.kit.ratelimit import RateLimiter
from samaconso.legacy import generator as g
from samaconso.settings import Settings
from tests.identity.helpers import API, new_phone
from tests.security.conftest import swapped_limiter
from tests.support.redis62 import start_redis62


async def _server_version(redis: Redis) -> str:
    return str((await redis.info("server"))["redis_version"])


@pytest.mark.parametrize("server", ["6.2", "7.x"])
async def test_limiter_counts_atomically_on_both_servers(
    server: str, redis62_url: str, settings: Settings
) -> None:
    redis = Redis.from_url(redis62_url if server == "6.2" else settings.redis_url)
    try:
        version = await _server_version(redis)
        assert version.startswith("6.2") if server == "6.2" else int(version.split(".")[0]) >= 7
        limiter = RateLimiter(redis, prefix=f"rl-test-{server}:")
        await redis.delete(f"rl-test-{server}:k")
        results = await asyncio.gather(*(limiter.hit("k", 10, 60) for _ in range(25)))
        assert sum(1 for allowed, _ in results if allowed) == 10  # concurrent hits: exactly the limit
        assert all(0 < retry <= 60 for _, retry in results)
        assert 0 < await redis.ttl(f"rl-test-{server}:k") <= 60  # the window expires
    finally:
        await redis.aclose()


async def test_login_limit_holds_on_the_embedded_redis(client: AsyncClient, limiter_on_62: Redis) -> None:
    codes = [
        (await client.post(f"{API}/auth/login", json={"phone": new_phone(), "pin": "2580"})).status_code
        for _ in range(31)
    ]
    assert codes[:30] == [401] * 30
    assert codes[30] == 429


async def test_otp_ip_limit_holds_on_the_embedded_redis(client: AsyncClient, limiter_on_62: Redis) -> None:
    codes = [
        (await client.post(f"{API}/auth/otp", json={"phone": new_phone(), "purpose": "signup"})).status_code
        for _ in range(21)
    ]
    assert codes[:20] == [202] * 20
    assert codes[20] == 429


async def test_notice_lookups_limited_on_the_embedded_redis(
    client: AsyncClient, limiter_on_62: Redis, legacy_source: object
) -> None:
    codes = [
        (
            await client.get(f"{API}/subscription-notices/{g.DEMO_NOTICE}", params={"phone": g.DEMO_PHONE})
        ).status_code
        for _ in range(11)
    ]
    assert codes[:10] == [200] * 10
    assert codes[10] == 429


@pytest.fixture
def limiter_down(app: FastAPI) -> Iterator[None]:
    from samaconso.embedded.procs import free_port

    dead = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    with swapped_limiter(app, RateLimiter(dead)):
        yield


async def test_redis_down_account_limits_fail_closed(client: AsyncClient, limiter_down: None) -> None:
    for path, body in (
        ("/auth/login", {"phone": new_phone(), "pin": "2580"}),
        ("/auth/otp", {"phone": new_phone(), "purpose": "signup"}),
        ("/auth/staff/login", {"login": "someone", "password": "whatever-1234"}),
    ):
        response = await client.post(f"{API}{path}", json=body)
        assert response.status_code == 503, (path, response.text)
        assert response.json()["code"] == "rate_limit_unavailable"
        assert int(response.headers["retry-after"]) > 0


async def test_redis_down_notice_lookup_fails_closed(
    client: AsyncClient, limiter_down: None, legacy_source: object
) -> None:
    response = await client.get(f"{API}/subscription-notices/{g.DEMO_NOTICE}", params={"phone": g.DEMO_PHONE})
    assert response.status_code == 503
    assert response.json()["code"] == "rate_limit_unavailable"


async def test_full_redis_refuses_instead_of_evicting(
    client: AsyncClient, app: FastAPI, tmp_path: Path
) -> None:
    """With the deployment's ``noeviction`` policy a full Redis refuses writes: the limiter sees it
    and the login limit answers 503, where an evicting Redis would silently reset the counters."""
    proc, url = start_redis62(tmp_path / "full", "--maxmemory-policy", "noeviction")
    redis = Redis.from_url(url)
    try:
        limiter = RateLimiter(redis)
        assert await limiter.eviction_policy() == "noeviction"
        for i in range(40):
            await redis.set(f"fill:{i}", b"x" * 65536)
        await redis.config_set("maxmemory", "1mb")  # the server is now full
        with pytest.raises(Exception, match="maxmemory"):
            await redis.set("one-more", "x")
        with swapped_limiter(app, limiter):
            response = await client.post(f"{API}/auth/login", json={"phone": new_phone(), "pin": "2580"})
        assert response.status_code == 503
        assert response.json()["code"] == "rate_limit_unavailable"
    finally:
        await redis.aclose()
        proc.stop()


def test_production_redis_does_not_evict() -> None:
    conf = Path(__file__).parents[2] / "deploy/server3-workers/redis/redis.conf"
    lines = [line.strip() for line in conf.read_text().splitlines()]
    assert "maxmemory-policy noeviction" in lines
