"""Request bodies say what they take, and take only that: unknown keys are refused (the document says
``additionalProperties: false``), integer fields take JSON integers (not ``"5"``, not ``true``)."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient

from samaconso.identity.models import Role
from samaconso.kit.db import Database
from samaconso.settings import Settings
from tests.support.users import make_user

API = "/api/v1"


def _resolve(node: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str):
        target: dict[str, Any] = spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]
        return target
    return node


def _objects(node: Any, spec: dict[str, Any], seen: set[int]) -> list[tuple[str, dict[str, Any]]]:
    """Every object schema reachable from a body schema, with the name it was reached by."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        ref = node.get("$ref")
        resolved = _resolve(node, spec)
        if id(resolved) in seen:
            return found
        seen.add(id(resolved))
        if "properties" in resolved:
            found.append((str(ref or resolved.get("title", "inline")), resolved))
        for key, value in resolved.items():
            if key not in ("example", "examples", "default"):
                found.extend(_objects(value, spec, seen))
    elif isinstance(node, list):
        for value in node:
            found.extend(_objects(value, spec, seen))
    return found


async def test_every_json_body_forbids_unknown_keys_in_the_document(client: AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    checked = 0
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            content = (operation.get("requestBody") or {}).get("content", {})
            schema = (content.get("application/json") or {}).get("schema")
            if schema is None:
                continue
            for name, obj in _objects(schema, spec, set()):
                checked += 1
                assert obj.get("additionalProperties") is False, f"{method.upper()} {path}: {name}"
    assert checked > 40  # every body model and the objects nested in them (targets, texts, tranches…)


async def test_an_unknown_key_is_refused_and_named_in_both_languages(
    client: AsyncClient, db: Database, settings: Settings
) -> None:
    admin = await make_user(db, settings, Role.admin)
    body = {"code": "XTR", "name": "Agence test", "region": "Dakar", "regoin": "Dakar"}
    fr = await client.post(f"{API}/agencies", headers=admin.headers, json=body)
    assert fr.status_code == 422, fr.text
    assert fr.headers["content-type"] == "application/problem+json"
    assert fr.json()["code"] == "validation_error"
    assert fr.json()["errors"] == [
        {"field": "regoin", "location": "body", "code": "extra_forbidden", "message": "champ inconnu"}
    ]
    en = await client.post(f"{API}/agencies", headers={**admin.headers, "Accept-Language": "en"}, json=body)
    assert en.status_code == 422
    assert en.json()["errors"][0]["message"] == "unknown field"
    # nested objects too: a third language in a notification title
    nested = await client.post(
        f"{API}/notifications",
        headers=admin.headers,
        json={
            "target": {"kind": "everyone"},
            "type": "campaign",
            "title": {"fr": "Titre", "en": "Title", "wo": "Tur"},
            "body": {"fr": "Texte", "en": "Text"},
        },
    )
    assert nested.status_code == 422, nested.text
    assert [(e["field"], e["code"]) for e in nested.json()["errors"]] == [("title.wo", "extra_forbidden")]
    # a NUL character in an unknown key: refused as well (422), as the document now says
    nul = await client.post(f"{API}/agencies", headers=admin.headers, json={**body, "\u0000": 1})
    assert nul.status_code == 422
    # and the body without the typo is taken
    fine = await client.post(
        f"{API}/agencies", headers=admin.headers, json={"code": "XTR", "name": "Agence test"}
    )
    assert fine.status_code == 201, fine.text


async def test_integer_fields_take_json_integers_only(
    client: AsyncClient, db: Database, settings: Settings
) -> None:
    admin = await make_user(db, settings, Role.admin)

    async def create(code: str, sla: object) -> Any:
        return await client.post(
            f"{API}/admin/request-types",
            headers=admin.headers,
            json={"code": code, "label_fr": "Essai", "label_en": "Trial", "sla_hours": sla},
        )

    for refused in ("24", True, 24.5):
        response = await create("trial_refused", refused)
        assert response.status_code == 422, (refused, response.text)
        error = response.json()["errors"][0]
        assert error["field"] == "sla_hours"
        assert error["message"] == "nombre entier attendu"
    taken = await create("trial_int", 24)
    assert taken.status_code == 201, taken.text
    assert taken.json()["sla_hours"] == 24
    # 48.0 is an integer for JSON Schema (no fractional part), so it is taken as 48
    also = await create("trial_float", 48.0)
    assert also.status_code == 201, also.text
    assert also.json()["sla_hours"] == 48
