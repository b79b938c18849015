"""Query strings read strictly: unknown parameters are refused, dates, booleans and numbers are
written one way only.

FastAPI ignores parameters it does not know (``?type=x&assigned_to=me`` answered every request, as if
filtered) and pydantic's lax parsing reads ``?on=0`` as 1970-01-01 and ``?history=0`` or ``=off`` as a
boolean. A dependency of the API router runs first and answers:

- 400 ``unknown_query_parameter`` naming the parameters the route does not declare;
- 422 ``validation_error`` when a date is not ``YYYY-MM-DD``, a date-time not ISO 8601, a boolean not
  ``true``/``false``, an integer not digits or a number not a decimal.
"""

from __future__ import annotations

import re
import types
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Union, get_args, get_origin

from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection

from samaconso.kit.errors import AppError
from samaconso.kit.language import request_language
from samaconso.kit.problems import allowed_methods

_FORMATS: dict[type, tuple[re.Pattern[str], str, str, str]] = {
    # type: (pattern, error type, French expectation, English expectation)
    bool: (re.compile(r"^(true|false)$"), "bool_parsing", "true ou false", "true or false"),
    date: (re.compile(r"^\d{4}-\d{2}-\d{2}$"), "date_parsing", "une date AAAA-MM-JJ", "a date YYYY-MM-DD"),
    datetime: (
        re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$"),
        "datetime_parsing",
        "une date et heure ISO 8601",
        "an ISO 8601 date-time",
    ),
    int: (re.compile(r"^-?\d{1,18}$"), "int_parsing", "un nombre entier", "an integer"),
    float: (re.compile(r"^-?\d{1,15}(\.\d{1,15})?$"), "float_parsing", "un nombre", "a number"),
    Decimal: (re.compile(r"^-?\d{1,15}(\.\d{1,15})?$"), "decimal_parsing", "un nombre", "a number"),
    uuid.UUID: (
        re.compile(r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$"),
        "uuid_parsing",
        "un identifiant UUID",
        "a UUID",
    ),
}


def _base_type(annotation: Any) -> type | None:
    """``date`` for ``Annotated[date | None, ...]``; None for strings, enums and the rest."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    origin = get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        members = [a for a in get_args(annotation) if a is not type(None)]
        if len(members) != 1:
            return None
        return _base_type(members[0])
    if origin in (list, tuple, set):
        args = get_args(annotation)
        return _base_type(args[0]) if args else None
    if isinstance(annotation, type):
        for known in (bool, datetime, date, int, float, Decimal, uuid.UUID):
            if annotation is known:
                return known
    return None


def _query_fields(dependant: Dependant) -> dict[str, type | None]:
    fields: dict[str, type | None] = {}
    for field in dependant.query_params:
        fields[field.alias] = _base_type(field.field_info.annotation)
    for sub in dependant.dependencies:
        fields.update(_query_fields(sub))
    return fields


_CACHE: dict[int, dict[str, type | None]] = {}


def declared_query(route: Any) -> dict[str, type | None] | None:
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return None
    key = id(route)
    if key not in _CACHE:
        _CACHE[key] = _query_fields(dependant)
    return _CACHE[key]


def _unknown(names: list[str], declared: dict[str, type | None], lang: str) -> AppError:
    listed = ", ".join(names)
    known = sorted(declared)
    allowed_fr = ", ".join(known) if known else "aucun"
    allowed_en = ", ".join(known) if known else "none"
    message = (
        f"paramètre inconnu (acceptés : {allowed_fr})"
        if lang == "fr"
        else f"unknown parameter (accepted: {allowed_en})"
    )
    return AppError(
        400,
        "unknown_query_parameter",
        f"Paramètre de requête inconnu : {listed}.",
        f"Unknown query parameter: {listed}.",
        extra={
            "errors": [
                {
                    "field": n,
                    "location": "query",
                    "code": "unknown_parameter",
                    "message": message,
                    "allowed": known,
                }
                for n in names
            ]
        },
    )


async def strict_query(request: HTTPConnection) -> None:
    """Dependency of every router: refuse what the matched route does not declare, and loose values."""
    if request.scope["type"] != "http":
        return
    route = request.scope.get("route")
    declared = declared_query(route)
    if declared is None or request.scope["method"] not in (getattr(route, "methods", None) or ()):
        return  # not this route's method: the router answers 405
    # DELETE /me/notifications/read-all reaches DELETE /me/notifications/{notification_id}: the
    # path names a resource of its own, which has no DELETE: 405, as for any method it lacks.
    allowed = allowed_methods(request.app, request.url.path)
    if allowed and request.scope["method"] not in allowed:
        raise StarletteHTTPException(405, headers={"Allow": ", ".join(allowed)})
    params = request.query_params
    unknown = sorted({name for name in params if name not in declared})
    if unknown:
        raise _unknown(unknown, declared, request_language(request))
    problems: list[dict[str, Any]] = []
    for name, kind in declared.items():
        if kind is None or name not in params:
            continue
        rule = _FORMATS.get(kind)
        if rule is None:
            continue
        pattern, error_type, fr, en = rule
        for value in params.getlist(name):
            if not pattern.match(value):
                problems.append(
                    {
                        "loc": ("query", name),
                        "type": error_type,
                        "msg": f"expected {en}",
                        "input": value,
                        "ctx": {"expected_fr": fr, "expected_en": en},
                    }
                )
    if problems:
        raise RequestValidationError(problems)
