"""Validation that helps, through the API: the field (with its path), what is allowed, in French or
English; unknown query parameters refused; strict dates, booleans and numbers in query strings; the
language of the profile when the request names none."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient

from samaconso.identity.models import Agency, Role
from samaconso.kit.db import Database
from samaconso.settings import Settings
from tests.support.users import make_user

EN = {"Accept-Language": "en"}


def grid(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": "DPP",
        "label": "CRSE 2030 (contract test)",
        "effective_from": "2030-01-01",
        "monthly_fee": 429,
        "municipal_tax_rate": 0.025,
        "vat_rate": 0.18,
        "vat_from_kwh": 250,
        "tranches": [
            {"kwh_from": 0, "kwh_to": 150, "price_postpaid": 80, "price_prepaid": 80},
            {"kwh_from": 150, "kwh_to": 250, "price_postpaid": 130, "price_prepaid": 130},
            {"kwh_from": 250, "price_postpaid": 160, "price_prepaid": 130},
        ],
    }
    body.update(overrides)
    return body


def by_field(response_json: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["field"]: e for e in response_json["errors"]}


async def test_unknown_query_parameters_are_refused(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    agent = await make_user(db, settings, Role.agent, agency_id=agencies["DKC"].id)
    r = await client.get("/api/v1/requests?status=submitted&assigned_to=me", headers=agent.headers)
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == "unknown_query_parameter"
    assert body["detail"] == "Paramètre de requête inconnu : assigned_to."
    (error,) = body["errors"]
    assert error["field"] == "assigned_to"
    assert error["location"] == "query"
    assert {"status", "overdue", "agency", "reference", "type", "assignee", "limit", "cursor"} == set(
        error["allowed"]
    )
    assert "acceptés" in error["message"]
    en = await client.get("/api/v1/requests?assigned_to=me", headers={**agent.headers, **EN})
    assert en.json()["detail"] == "Unknown query parameter: assigned_to."
    assert en.headers["content-language"] == "en"
    assert (await client.get("/api/v1/requests?status=submitted", headers=agent.headers)).status_code == 200
    # a route without parameters refuses any
    assert (await client.get("/api/v1/me?x=1", headers=agent.headers)).status_code == 400


async def test_query_dates_booleans_and_numbers_are_strict(
    client: AsyncClient, db: Database, settings: Settings
) -> None:
    user = await make_user(db, settings)
    for query, field, expected in [
        ("on=0", "on", "AAAA-MM-JJ"),
        ("on=20261130", "on", "AAAA-MM-JJ"),
        ("history=0", "history", "true ou false"),
        ("history=yes", "history", "true ou false"),
        ("limit=2.0", "limit", "nombre entier"),
        ("limit=1e1", "limit", "nombre entier"),
    ]:
        r = await client.get(f"/api/v1/tariffs?{query}", headers=user.headers)
        assert r.status_code == 422, query
        error = by_field(r.json())[field]
        assert error["location"] == "query"
        assert expected in error["message"], (query, error)
    en = await client.get("/api/v1/tariffs?on=0", headers={**user.headers, **EN})
    assert by_field(en.json())["on"]["message"] == "invalid date: expected a date YYYY-MM-DD"
    for query in ("on=2026-11-30", "history=true", "history=false", "limit=5"):
        assert (await client.get(f"/api/v1/tariffs?{query}", headers=user.headers)).status_code == 200, query


async def test_body_errors_name_the_field_and_what_is_allowed(
    client: AsyncClient, db: Database, settings: Settings
) -> None:
    missing = await client.post("/api/v1/auth/login", json={})
    assert missing.status_code == 422
    fields = by_field(missing.json())
    assert fields["phone"]["message"] == "champ obligatoire"
    assert fields["phone"]["location"] == "body"
    assert fields["pin"]["code"] == "missing"
    no_body = await client.post("/api/v1/auth/login")
    assert by_field(no_body.json())["body"]["code"] == "missing"
    not_json = await client.post(
        "/api/v1/auth/login", content=b"{phone", headers={"Content-Type": "application/json"}
    )
    assert by_field(not_json.json())["body"]["code"] == "json_invalid"

    user = await make_user(db, settings)
    kind = await client.post("/api/v1/me/meters", json={"kind": "solar", "number": "1"}, headers=user.headers)
    error = by_field(kind.json())["kind"]
    assert error["allowed"] == ["prepaid", "postpaid"]
    assert error["message"] == "valeur non autorisée : attendu « prepaid », « postpaid »"
    kind_en = await client.post(
        "/api/v1/me/meters", json={"kind": "solar", "number": "1"}, headers={**user.headers, **EN}
    )
    assert by_field(kind_en.json())["kind"]["message"] == "value not allowed: expected 'prepaid', 'postpaid'"

    long_name = await client.patch("/api/v1/me", json={"first_name": "x" * 81}, headers=user.headers)
    error = by_field(long_name.json())["first_name"]
    assert error["constraint"] == {"max_length": 80}
    assert error["message"] == "trop long (au plus 80 caractère(s) ou élément(s))"


async def test_nested_fields_have_their_path_and_grid_problems_their_language(
    client: AsyncClient, db: Database, settings: Settings
) -> None:
    admin = await make_user(db, settings, Role.admin)
    body = grid()
    body["tranches"][1]["kwh_to"] = -5
    nested = await client.post("/api/v1/admin/tariffs", json=body, headers=admin.headers)
    assert nested.status_code == 422
    assert by_field(nested.json())["tranches.1.kwh_to"]["constraint"] == {"gt": 0}

    gap = grid()
    gap["tranches"] = [
        {"kwh_from": 0, "kwh_to": 150, "price_postpaid": 80, "price_prepaid": 80},
        {"kwh_from": 160, "price_postpaid": 130, "price_prepaid": 130},
    ]
    fr = await client.post("/api/v1/admin/tariffs", json=gap, headers=admin.headers)
    assert fr.json()["code"] == "invalid_tariff_grid"
    assert fr.json()["problems"] == ["la tranche 2 doit commencer où finit la tranche 1"]
    en = await client.post("/api/v1/admin/tariffs", json=gap, headers={**admin.headers, **EN})
    assert en.json()["problems"] == ["tranche 2 must start where tranche 1 ends"]
    assert en.headers["content-language"] == "en"


async def test_language_of_the_profile_without_accept_language(
    client: AsyncClient, db: Database, settings: Settings
) -> None:
    user = await make_user(db, settings)
    assert (
        await client.patch("/api/v1/me", json={"language": "en"}, headers=user.headers)
    ).status_code == 200
    missing = await client.get("/api/v1/me/meters/00000000-0000-4000-8000-000000000000", headers=user.headers)
    assert missing.status_code == 404
    assert missing.json()["detail"] == "Meter not found."
    assert missing.headers["content-language"] == "en"
    me = await client.get("/api/v1/me", headers=user.headers)
    assert me.headers["content-language"] == "en"
    french = await client.get(
        "/api/v1/me/meters/00000000-0000-4000-8000-000000000000",
        headers={**user.headers, "Accept-Language": "fr-SN,fr;q=0.9"},
    )
    assert french.json()["detail"] == "Compteur introuvable."
    assert french.headers["content-language"] == "fr"
    # a header naming no language we speak falls back to the profile
    other = await client.get("/api/v1/me?", headers={**user.headers, "Accept-Language": "de"})
    assert other.headers["content-language"] == "en"
