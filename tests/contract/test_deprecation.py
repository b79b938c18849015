"""docs/versioning.md: an operation marked deprecated in the operation table is ``deprecated: true``
in the document, and every answer it gives carries ``Deprecation``, ``Sunset`` and ``Link``."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from samaconso.kit.deprecation import Deprecation
from samaconso.kit.errors import AppError
from samaconso.kit.openapi import OPERATIONS, Op, install_contract
from samaconso.kit.problems import install_error_handlers

BASE = "http://api.test"


def _app() -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None)
    install_error_handlers(app)

    @app.get("/api/v1/old/{item}")
    async def old(item: int) -> dict[str, int]:
        if item == 0:
            raise AppError(404, "not_found", "Introuvable.", "Not found.")
        return {"item": item}

    @app.get("/api/v1/new/{item}")
    async def new(item: int) -> dict[str, int]:
        return {"item": item}

    install_contract(
        app,
        BASE,
        is_public=lambda method, path: True,
        dependency_codes={},
        operations={
            ("GET", "/api/v1/old/{item}"): Op(
                "getOldItem",
                "An item (old)",
                "The first way.",
                deprecated=Deprecation(date(2026, 12, 1), date(2027, 6, 1), "`getItem`"),
            ),
            ("GET", "/api/v1/new/{item}"): Op("getItem", "An item", "The way to call."),
        },
    )
    return app


async def test_a_deprecated_operation_says_so_in_the_document_and_on_every_answer() -> None:
    async with AsyncClient(transport=ASGITransport(app=_app()), base_url=BASE) as client:
        spec = (await client.get("/openapi.json")).json()
        old = spec["paths"]["/api/v1/old/{item}"]["get"]
        assert old["deprecated"] is True
        assert "`getItem`" in old["description"]
        assert "2027-06-01" in old["description"]
        assert {"Deprecation", "Sunset", "Link"} <= set(old["responses"]["200"]["headers"])
        assert {"Deprecation", "Sunset", "Link"} <= set(old["responses"]["404"]["headers"])
        new = spec["paths"]["/api/v1/new/{item}"]["get"]
        assert "deprecated" not in new
        assert "Sunset" not in new["responses"]["200"]["headers"]

        for url, status in (("/api/v1/old/7", 200), ("/api/v1/old/0", 404), ("/api/v1/old/x", 422)):
            response = await client.get(url)
            assert response.status_code == status, url
            assert response.headers["deprecation"] == "@1796083200"  # 2026-12-01T00:00:00Z
            assert response.headers["sunset"] == "Tue, 01 Jun 2027 00:00:00 GMT"
            assert response.headers["link"] == f'<{BASE}/redoc#operation/getOldItem>; rel="deprecation"'
        fresh = await client.get("/api/v1/new/7")
        assert fresh.status_code == 200
        assert "deprecation" not in fresh.headers
        assert "sunset" not in fresh.headers


def test_a_sunset_comes_after_its_deprecation() -> None:
    with pytest.raises(ValueError):
        Deprecation(date(2027, 6, 1), date(2026, 12, 1), "`getItem`")


def test_nothing_of_the_api_is_deprecated_today() -> None:
    # when something is, docs/versioning.md's changelog names it and this test changes with it
    assert [op.id for op in OPERATIONS.values() if op.deprecated] == []
