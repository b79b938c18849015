"""A burst past the connection pool answers 503 problem+json with Retry-After, never a 500."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from samaconso.kit.db import Database
from samaconso.settings import Settings
from tests.support.users import make_user

pytestmark = pytest.mark.settings(database_pool_size=1, database_max_overflow=0, database_pool_timeout_s=0.3)


async def test_exhausted_pool_is_a_503_with_retry_after(
    app: FastAPI, db: Database, client: AsyncClient, settings: Settings
) -> None:
    user = await make_user(db, settings)
    # the process's only connection is taken (a burst): the session check cannot reach PostgreSQL
    async with db.engine.connect() as held:
        await held.exec_driver_sql("SELECT 1")
        fr = await client.get("/api/v1/me/notifications?limit=20", headers=user.headers)
        en = await client.get(
            "/api/v1/me/notifications?limit=20", headers={**user.headers, "Accept-Language": "en"}
        )
    for response in (fr, en):
        assert response.status_code == 503
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.headers["retry-after"] == "1"
        assert response.json()["code"] == "database_busy"
    assert fr.json()["detail"] == "Service très sollicité, réessayez dans un instant."
    assert en.json()["detail"] == "The service is very busy, please retry in a moment."
    # once the connection is back, the same call answers
    ok = await client.get("/api/v1/me/notifications?limit=20", headers=user.headers)
    assert ok.status_code == 200, ok.text


async def test_the_contract_documents_database_busy(client: AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    responses = spec["paths"]["/api/v1/me/notifications"]["get"]["responses"]
    assert "database_busy" in responses["503"]["description"]
    assert "Retry-After" in responses["503"]["headers"]
