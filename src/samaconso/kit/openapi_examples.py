"""Examples for the OpenAPI document, built from the schemas themselves.

A field's own ``examples`` (pydantic ``Field(examples=[...])``) wins; otherwise a realistic value is
picked from the field's name (a Senegalese phone number for ``phone``, an 11-digit Woyofal number for
``number``…), then from its format, enumeration and limits. ``tests/contract`` validates every
example against its schema, so an example that lies fails the build.
"""

from __future__ import annotations

import re
from typing import Any

from samaconso.kit.errors import ERROR_CATALOGUE

_UUIDS = (
    "0b6f1d2e-3c4a-4e5f-8a9b-0c1d2e3f4a5b",
    "5d7e9f10-2b3c-4d5e-9f60-718293a4b5c6",
    "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
)

# By property name: values a reader recognises (phones, meter numbers, amounts in FCFA…).
_BY_NAME: dict[str, Any] = {
    "phone": "+221771234567",
    "pin": "2580",
    "new_pin": "1379",
    "current_pin": "2580",
    "otp": "482913",
    "login": "agent.dakar",
    "password": "Agent-Demo-2026",
    "email": "awa.diop@example.sn",
    "first_name": "Awa",
    "last_name": "Diop",
    "access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI1ZDdlOWYxMCJ9.c2lnbmF0dXJl",
    "refresh_token": "rt_4e0c2a7b9d1f4c3e8a6b5d2f1e0c9b8a",
    "token_type": "bearer",
    "fcm_token": "fcm:APA91bH-example-device-token",
    "language": "fr",
    "number": "14123456783",
    "meter_number": "14123456783",
    "contract_number": "3001234567",
    "tariff_code": "DPP",
    "code": ["DPP", "reclamation_facture", "DKC"],
    "type": ["reclamation_facture", "outage"],
    "amount": 5000,
    "kwh": 42.5,
    "days": 30,
    "month_to_date_kwh": 120.0,
    "city": "Dakar",
    "region": "Dakar",
    "name": "Dakar Centre",
    "color_hex": "#2E7D32",
    "next_cursor": None,
    "cursor": None,
    "request_id": "3f2a9c1e7b5d4a60b8e1c2d3f4a5b6c7",
    "status": "running",
    "version": "3.0.0",
    "original_name": "facture-octobre.pdf",
    "content_type": "application/pdf",
    "url": "https://files.samaconso.senelec.sn/documents/0b6f1d2e?X-Amz-Signature=example",
    "comment": "Le compteur affiche une erreur depuis hier.",
    "description": "Réclamation sur une facture",
}


_NONE = object()
_GENERIC_STRINGS = ("Exemple", "exemple", "DKC", "2026", "exemple_1")


def _named(name: str | None, schema: dict[str, Any]) -> Any:
    """The first value known for this property name that fits the schema (or ``_NONE``)."""
    known = _BY_NAME.get(name or "", _NONE)
    candidates = known if isinstance(known, list) else [known]
    for value in candidates:
        if value is not _NONE and _fits(value, schema):
            return value
    return _NONE


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    seen = 0
    while "$ref" in schema and seen < 20:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec.get("components", {}).get("schemas", {}).get(name, {})
        seen += 1
    return schema


def _string(schema: dict[str, Any], name: str | None) -> Any:
    fmt = schema.get("format")
    if fmt == "uuid":
        return _UUIDS[len(name or "") % len(_UUIDS)]
    if fmt == "date-time":
        return "2026-11-30T08:15:00Z"
    if fmt == "date":
        return "2026-11-30"
    if fmt == "email":
        return "awa.diop@example.sn"
    if fmt in ("uri", "url"):
        return "https://samaconso.senelec.sn/"
    if fmt == "binary":
        return "<bytes>"
    minimum = int(schema.get("minLength", 0))
    maximum = int(schema.get("maxLength", 64))
    for candidate in _GENERIC_STRINGS:
        if _fits(candidate, {**schema, "type": "string"}):
            return candidate
    text = "Exemple"
    if len(text) < minimum:
        text = text + "x" * (minimum - len(text))
    return text[: max(maximum, minimum)]


def _fits(value: Any, schema: dict[str, Any]) -> bool:
    """A cheap check that a named value suits the schema (type, enum, length, pattern)."""
    if "enum" in schema and value not in schema["enum"]:
        return False
    kind = schema.get("type")
    if kind == "string":
        return (
            isinstance(value, str)
            and len(value) >= int(schema.get("minLength", 0))
            and len(value) <= int(schema.get("maxLength", 10**6))
            and ("pattern" not in schema or re.search(schema["pattern"], value) is not None)
        )
    if kind in ("number", "integer"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if kind == "integer" and not isinstance(value, int):
            return False
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        return (low is None or value >= low) and (high is None or value <= high)
    if kind == "null":
        return value is None
    return kind is None


def example_for(schema: dict[str, Any], spec: dict[str, Any], name: str | None = None, depth: int = 0) -> Any:
    """A value valid against ``schema`` (refs resolved from ``spec``)."""
    schema = _resolve(schema, spec)
    if "example" in schema:
        return schema["example"]
    if schema.get("examples"):
        return schema["examples"][0]
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [o for o in schema[key] if _resolve(o, spec).get("type") != "null"] or schema[key]
            for option in options:
                named = _named(name, _resolve(option, spec))
                if named is not _NONE:
                    return named
            return example_for(options[0], spec, name, depth + 1)
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            value = example_for(part, spec, name, depth + 1)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    named = _named(name, schema)
    if named is not _NONE:
        return named
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        if depth > 6:
            return {}
        props: dict[str, Any] = schema.get("properties", {})
        discriminator = schema.get("discriminator", {})
        return {
            key: example_for(value, spec, key, depth + 1)
            for key, value in props.items()
            if key not in discriminator
        }
    if kind == "array":
        if "prefixItems" in schema:
            return [example_for(item, spec, name, depth + 1) for item in schema["prefixItems"]]
        items = schema.get("items", {})
        count = max(1, int(schema.get("minItems", 1)))
        return [example_for(items, spec, name, depth + 1) for _ in range(count)] if depth < 6 else []
    if kind == "integer":
        low = schema.get(
            "minimum", schema.get("exclusiveMinimum", 0) + 1 if "exclusiveMinimum" in schema else 1
        )
        high = schema.get("maximum", low)
        return int(min(max(low, 1), high))
    if kind == "number":
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        high = schema.get("maximum", None)
        value = float(low) + 10.5
        return value if high is None or value <= high else float(high)
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    if kind == "string":
        return _string(schema, name)
    return None


def problem_example(status: int, code: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A problem as the API sends it, French text from the catalogue."""
    entry = ERROR_CATALOGUE[code]
    body: dict[str, Any] = {
        "type": f"https://samaconso.senelec.sn/problems/{code}",
        "title": ERROR_CATALOGUE.get(_title_code(status), entry).fr,
        "status": status,
        "code": code,
        "detail": entry.fr,
        "instance": "/api/v1/me/meters",
        "request_id": "3f2a9c1e7b5d4a60b8e1c2d3f4a5b6c7",
    }
    if code == "validation_error":
        body["errors"] = [
            {
                "field": "kind",
                "location": "body",
                "code": "enum",
                "message": "valeur non autorisée : attendu « prepaid » ou « postpaid »",
                "allowed": ["prepaid", "postpaid"],
            }
        ]
    if code == "unknown_query_parameter":
        body["errors"] = [
            {
                "field": "assigned_to",
                "location": "query",
                "code": "unknown_parameter",
                "message": "paramètre inconnu",
            }
        ]
    return body


def _title_code(status: int) -> str:
    from samaconso.kit.errors import STATUS_TEXT

    return STATUS_TEXT.get(status, ("error", "", ""))[0]
