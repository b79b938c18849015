from __future__ import annotations

import json

import pytest
from httpx import AsyncClient


async def test_unknown_route_is_problem_json_in_french(client: AsyncClient) -> None:
    response = await client.get("/nope")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "not_found"
    assert body["status"] == 404
    assert body["detail"] == "Ressource introuvable."
    assert body["request_id"] == response.headers["x-request-id"]


async def test_english_when_asked(client: AsyncClient) -> None:
    response = await client.get("/nope", headers={"Accept-Language": "en-GB,en;q=0.9,fr;q=0.5"})
    assert response.json()["detail"] == "Resource not found."
    assert response.headers["content-language"] == "en"


async def test_request_id_is_echoed_and_generated(client: AsyncClient) -> None:
    given = await client.get("/health", headers={"X-Request-ID": "abc12345-trace"})
    assert given.headers["x-request-id"] == "abc12345-trace"
    generated = await client.get("/health", headers={"X-Request-ID": "bad id with spaces"})
    assert generated.headers["x-request-id"] != "bad id with spaces"
    assert len(generated.headers["x-request-id"]) == 32


async def test_log_lines_are_json_with_request_id(
    client: AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    response = await client.get("/nope", headers={"X-Request-ID": "req-logcheck-1"})
    assert response.status_code == 404
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("event") == "http_request"]
    assert access, "an access log line is written"
    assert access[-1]["request_id"] == "req-logcheck-1"
    assert access[-1]["status"] == 404


def test_scrubber_masks_secrets() -> None:
    from samaconso.kit.logging import scrub_processor

    event = scrub_processor(
        None,
        "info",
        {
            "event": "x",
            "pin": "1234",
            "payload": {"password": "p", "phone": "+221771234567"},
            "note": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc",
        },
    )
    assert event["pin"] == "[redacted]"
    assert event["payload"] == {"password": "[redacted]", "phone": "+221771234567"}
    assert "eyJ" not in event["note"]


async def test_metrics_are_exposed_locally(client: AsyncClient) -> None:
    await client.get("/health")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert "samaconso_http_requests_total" in response.text
    assert 'route="/health"' in response.text


async def test_unexpected_errors_log_where_not_what(capsys: pytest.CaptureFixture[str]) -> None:
    from fastapi import FastAPI
    from httpx import ASGITransport

    from samaconso.kit.problems import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("value 'pin-hash-secret' rejected by driver")

    capsys.readouterr()
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.get("/boom")
    assert response.status_code == 500
    assert response.json()["detail"] == "Erreur interne, veuillez réessayer."
    assert "pin-hash-secret" not in response.text
    err = capsys.readouterr().err
    assert "unhandled_error" in err
    assert "RuntimeError" in err
    assert "test_errors_and_logs.py" in err
    assert "pin-hash-secret" not in err
