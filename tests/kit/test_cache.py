from __future__ import annotations

import json

import pytest
from fastapi import FastAPI

from samaconso.kit.cache import Cache, make_redis
from samaconso.kit.db import Database


async def test_get_or_load_caches_json_with_ttl(app: FastAPI, db: Database) -> None:
    cache: Cache = app.state.cache
    calls = []

    async def loader() -> dict[str, int]:
        calls.append(1)
        return {"kwh": 150}

    assert await cache.get_or_load("meter:1", 60, loader) == {"kwh": 150}
    assert await cache.get_or_load("meter:1", 60, loader) == {"kwh": 150}
    assert len(calls) == 1
    ttl = await app.state.redis.ttl("cache:meter:1")
    assert 0 < ttl <= 60
    assert json.loads(await app.state.redis.get("cache:meter:1")) == {"kwh": 150}


async def test_cache_fails_open_with_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    cache = Cache(make_redis("redis://127.0.0.1:1/0", 0.3))

    async def loader() -> str:
        return "fresh"

    capsys.readouterr()
    assert await cache.get_or_load("k", 10, loader) == "fresh"
    err = capsys.readouterr().err
    assert "cache_unavailable" in err
    await cache.redis.aclose()
