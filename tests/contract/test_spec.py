"""The OpenAPI document as the app team reads it: every operation named, described, secured, with
its errors as problems and an example per body; examples valid against their own schemas."""

from __future__ import annotations

import re
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from httpx import AsyncClient

from samaconso.identity.deps import PUBLIC_ROUTES
from samaconso.kit.errors import ERROR_CATALOGUE
from samaconso.kit.inputs import MAX_YEAR, MIN_YEAR
from samaconso.kit.openapi import OPERATIONS, operation_codes
from samaconso.settings import Settings

METHODS = ("get", "post", "put", "patch", "delete")


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), p, op) for p, item in spec["paths"].items() for m, op in item.items() if m in METHODS]


def _validate(instance: Any, schema: dict[str, Any], spec: dict[str, Any]) -> None:
    """Validate against a schema of the document (its ``#/components/...`` refs resolved in place)."""
    root = {**schema, "components": spec["components"]}
    jsonschema.Draft202012Validator(root, format_checker=jsonschema.FormatChecker()).validate(instance)


@pytest.fixture
async def spec(client: AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


async def test_every_operation_is_named_described_and_secured(spec: dict[str, Any]) -> None:
    operations = _operations(spec)
    ids = [op["operationId"] for _, _, op in operations]
    assert len(ids) == len(set(ids)), "operationIds must be unique"
    for method, path, op in operations:
        assert (method, path) in OPERATIONS, f"{method} {path}: add it to kit/openapi.py OPERATIONS"
        assert re.fullmatch(r"[a-z][a-zA-Z0-9]+", op["operationId"]), op["operationId"]
        assert op["summary"], (method, path)
        assert op["description"], (method, path)
        assert op["tags"], (method, path)
        expected: list[dict[str, list[str]]] = [] if (method, path) in PUBLIC_ROUTES else [{"bearerAuth": []}]
        assert op["security"] == expected, (method, path)
    assert {(m, p) for m, p, _ in operations} == set(OPERATIONS), "OPERATIONS names routes that do not exist"
    assert spec["paths"]["/api/v1/me/meters"]["get"]["operationId"] == "listMyMeters"
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": spec["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    tags = {t["name"]: t["description"] for t in spec["tags"]}
    assert all(tags.get(tag) for _, _, op in operations for tag in op["tags"])


async def test_errors_are_problems_with_catalogued_codes(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas
    assert {"type", "title", "status", "code", "detail", "instance"} <= set(schemas["Problem"]["required"])
    for method, path, op in _operations(spec):
        statuses = {int(s) for s in op["responses"]}
        assert any(200 <= s < 300 for s in statuses), (method, path)
        assert 400 in statuses, (method, path)  # unknown query parameters, at least
        if op.get("parameters") or "application/json" in op.get("requestBody", {}).get("content", {}):
            assert 422 in statuses, (method, path)
        if (method, path) not in PUBLIC_ROUTES:
            assert 401 in statuses, (method, path)
        for status, codes in operation_codes(spec, method, path).items():
            response = op["responses"][str(status)]
            assert list(response["content"]) == ["application/problem+json"], (method, path, status)
            content = response["content"]["application/problem+json"]
            assert content["schema"]["allOf"][0] == {"$ref": "#/components/schemas/Problem"}
            for code in codes:
                assert ERROR_CATALOGUE[code].status == status, (method, path, code)
            _validate(content["example"], content["schema"], spec)
            assert {"X-Request-ID", "Content-Language"} <= set(response["headers"])
            if status in (429, 503):
                assert "Retry-After" in response["headers"], (method, path)
    # one operation in detail: what a customer adding a meter can be told
    add = operation_codes(spec, "POST", "/api/v1/me/meters")
    assert add[404] == ["contract_unknown", "meter_unknown"]
    assert add[409] == ["access_request_pending", "access_requests_full", "meter_already_linked"]
    assert add[429] == ["access_request_cooldown", "too_many_meter_additions"]
    assert "customer_only" in add[403]


async def test_every_body_has_a_valid_example(spec: dict[str, Any]) -> None:
    bodies = 0
    for method, path, op in _operations(spec):
        request = op.get("requestBody", {}).get("content", {})
        for media, content in request.items():
            if "json" in media:
                assert "example" in content, (method, path, "request")
                _validate(content["example"], content["schema"], spec)
                bodies += 1
        for status, response in op["responses"].items():
            for media, content in (response.get("content") or {}).items():
                if "json" in media and "schema" in content:
                    assert "example" in content, (method, path, status)
                    _validate(content["example"], content["schema"], spec)
                    bodies += 1
    assert bodies > 300


async def test_numbers_are_numbers_and_servers_are_the_public_url(
    spec: dict[str, Any], settings: Settings
) -> None:
    schemas = spec["components"]["schemas"]

    def types(prop: dict[str, Any]) -> set[str]:
        return {o.get("type") for o in prop.get("anyOf", [prop])} - {"null"}

    for model, field in [
        ("TariffVersionOut", "vat_from_kwh"),
        ("TrancheOut", "kwh_to"),
        ("BandOut", "kwh_max"),
        ("AdviceOut", "kwh_left_in_current_tranche"),
        ("AdviceOut", "cost_to_finish_tranche"),
        ("VendingInfo", "units"),
    ]:
        assert types(schemas[model]["properties"][field]) == {"number"}, (model, field)
    bounds = schemas["PostpaidOut"]["properties"]["tranche_bounds"]["items"]["prefixItems"]
    assert [types(b) for b in bounds] == [{"number"}, {"number"}]
    assert spec["servers"][0]["url"] == settings.public_base_url.rstrip("/")


def test_counts(spec_counts: dict[str, int]) -> None:
    """The figures of the report (before this work: 72 operations, 135 responses, 0 examples)."""
    assert spec_counts["operations"] >= 73
    assert spec_counts["responses"] > 3 * spec_counts["operations"]
    assert spec_counts["examples"] >= spec_counts["responses"]


@pytest.fixture
def spec_counts(spec: dict[str, Any]) -> dict[str, int]:
    operations = _operations(spec)
    examples = sum(
        1
        for _, _, op in operations
        for part in [op.get("requestBody", {}), *op["responses"].values()]
        for content in (part.get("content") or {}).values()
        if "example" in content
    )
    counts = {
        "operations": len(operations),
        "responses": sum(len(op["responses"]) for _, _, op in operations),
        "examples": examples,
    }
    print("openapi counts:", counts)
    return counts


async def test_query_dates_document_the_years_the_api_takes(
    spec: dict[str, Any], client: AsyncClient
) -> None:
    params = {
        (path, p["name"]): p["schema"]
        for path, item in spec["paths"].items()
        for op in item.values()
        for p in op.get("parameters", [])
        if p["in"] == "query" and "date" in str(p["schema"])
    }
    assert params  # from / to / on
    for (path, name), schema in params.items():
        date_schema = next(s for s in schema.get("anyOf", [schema]) if s.get("format") == "date")
        pattern = date_schema["pattern"]
        assert re.match(pattern, f"{MIN_YEAR}-01-01"), (path, name)
        assert re.match(pattern, f"{MAX_YEAR}-12-31"), (path, name)
        assert not re.match(pattern, f"{MAX_YEAR + 1}-01-01"), (path, name)
        assert not re.match(pattern, f"{MIN_YEAR - 1}-12-31"), (path, name)
    # what the pattern refuses, the API refuses too (422 before any route runs)
    refused = await client.get("/api/v1/tariffs", params={"on": f"{MAX_YEAR + 1}-01-01"})
    assert refused.status_code == 422
    assert refused.json()["code"] == "validation_error"
    assert refused.json()["errors"][0]["location"] == "query"
