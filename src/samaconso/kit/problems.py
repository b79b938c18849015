"""The HTTP side of RFC 9457 problem details: the exception handlers that render :class:`AppError`,
framework errors and validation errors as ``application/problem+json`` in the caller's language."""

from __future__ import annotations

import re
import traceback
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from samaconso.kit.errors import PROBLEM_JSON, STATUS_TEXT, AppError, database_busy
from samaconso.kit.language import request_language

log = structlog.get_logger("samaconso.kit.errors")

# Retry-After of a 503 when the process's connection pool stays exhausted for pool_timeout.
POOL_RETRY_AFTER_S = 1


def problem_response(
    request: Request,
    status: int,
    code: str,
    detail_fr: str,
    detail_en: str,
    *,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    lang = request_language(request)
    title = STATUS_TEXT.get(status, ("error", "Erreur", "Error"))
    body: dict[str, Any] = {
        "type": f"https://samaconso.senelec.sn/problems/{code}",
        "title": title[1] if lang == "fr" else title[2],
        "status": status,
        "code": code,
        "detail": detail_fr if lang == "fr" else detail_en,
        "instance": request.url.path,
    }
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    body.update(extra or {})
    response = JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=dict(headers or {}))
    response.headers["Content-Language"] = lang
    return response


_FIELD_MESSAGES = {
    "missing": ("champ obligatoire", "field required"),
    "string_too_short": ("trop court", "too short"),
    "string_too_long": ("trop long", "too long"),
    "string_pattern_mismatch": ("format invalide", "invalid format"),
    "int_parsing": ("nombre entier attendu", "integer expected"),
    "float_parsing": ("nombre attendu", "number expected"),
    "literal_error": ("valeur non autorisée", "value not allowed"),
    "enum": ("valeur non autorisée", "value not allowed"),
    "value_error": ("valeur invalide", "invalid value"),
    "greater_than_equal": ("valeur trop petite", "value too small"),
    "greater_than": ("valeur trop petite", "value too small"),
    "less_than_equal": ("valeur trop grande", "value too large"),
    "less_than": ("valeur trop grande", "value too large"),
    "json_invalid": ("JSON invalide", "invalid JSON"),
    "uuid_parsing": ("identifiant invalide", "invalid identifier"),
    "datetime_from_date_parsing": ("date invalide", "invalid date"),
    "date_from_datetime_parsing": ("date invalide", "invalid date"),
    "date_parsing": ("date invalide", "invalid date"),
    "date_type": ("date invalide", "invalid date"),
    "datetime_parsing": ("date et heure invalides", "invalid date-time"),
    "datetime_type": ("date et heure invalides", "invalid date-time"),
    "bool_parsing": ("booléen invalide", "invalid boolean"),
    "bool_type": ("booléen attendu", "boolean expected"),
    "decimal_parsing": ("nombre attendu", "number expected"),
    "int_type": ("nombre entier attendu", "integer expected"),
    "int_from_float": ("nombre entier attendu", "integer expected"),
    "float_type": ("nombre attendu", "number expected"),
    "decimal_type": ("nombre attendu", "number expected"),
    "decimal_max_places": ("trop de décimales", "too many decimal places"),
    "decimal_max_digits": ("trop de chiffres", "too many digits"),
    "string_type": ("texte attendu", "string expected"),
    "list_type": ("liste attendue", "list expected"),
    "dict_type": ("objet attendu", "object expected"),
    "model_type": ("objet attendu", "object expected"),
    "model_attributes_type": ("objet JSON attendu", "JSON object expected"),
    "too_short": ("trop peu d'éléments", "too few items"),
    "too_long": ("trop d'éléments", "too many items"),
    "extra_forbidden": ("champ inconnu", "unknown field"),
    "union_tag_invalid": ("type non reconnu", "unknown kind"),
    "union_tag_not_found": ("champ discriminant manquant", "discriminator field missing"),
    "url_parsing": ("adresse invalide", "invalid URL"),
    "multiple_of": ("valeur non multiple", "not a multiple"),
    "finite_number": ("nombre fini attendu", "finite number expected"),
}


_LOCATIONS = ("body", "query", "path", "header", "cookie")
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")

# pydantic constraint in ctx -> (French, English) wording; {} is the limit
_CONSTRAINTS: dict[str, tuple[str, str]] = {
    "min_length": ("au moins {} caractère(s) ou élément(s)", "at least {} character(s) or item(s)"),
    "max_length": ("au plus {} caractère(s) ou élément(s)", "at most {} character(s) or item(s)"),
    "pattern": ("format attendu {}", "expected format {}"),
    "ge": ("au moins {}", "at least {}"),
    "gt": ("plus de {}", "more than {}"),
    "le": ("au plus {}", "at most {}"),
    "lt": ("moins de {}", "less than {}"),
    "max_digits": ("au plus {} chiffres", "at most {} digits"),
    "decimal_places": ("au plus {} décimale(s)", "at most {} decimal place(s)"),
    "multiple_of": ("un multiple de {}", "a multiple of {}"),
}


def field_error(err: Mapping[str, Any], lang: str) -> dict[str, Any]:
    """One pydantic/FastAPI validation error as the API shows it: where, what, and what is allowed."""
    raw_loc = list(err.get("loc", ()))
    location = str(raw_loc[0]) if raw_loc and raw_loc[0] in _LOCATIONS else None
    path = [str(p) for p in (raw_loc[1:] if location else raw_loc)]
    kind = str(err.get("type", "value_error"))
    ctx = dict(err.get("ctx") or {})
    field = (location or "body") if kind == "json_invalid" or not path else ".".join(path)
    fr, en = _FIELD_MESSAGES.get(kind, ("valeur invalide", "invalid value"))
    out: dict[str, Any] = {"field": field, "code": kind}
    if location:
        out["location"] = location
    message: str | None = None
    if kind == "value_error":
        localized = getattr(ctx.get("error"), "messages", None)
        if isinstance(localized, dict):
            message = localized.get(lang)
        elif lang == "en":
            message = str(err.get("msg", "")) or None
    elif ("expected" in ctx and kind in ("enum", "literal_error")) or "expected_tags" in ctx:
        expected = str(ctx.get("expected", ctx.get("expected_tags")))
        allowed = _QUOTED.findall(expected) or [expected]
        out["allowed"] = allowed
        listed = (
            ", ".join(f"« {a} »" for a in allowed) if lang == "fr" else ", ".join(f"'{a}'" for a in allowed)
        )
        message = f"{fr} : attendu {listed}" if lang == "fr" else f"{en}: expected {listed}"
    elif "expected_fr" in ctx:  # strict query values (kit/strict_query.py)
        out["constraint"] = {"format": ctx["expected_en"]}
        message = (
            f"{fr} : attendu {ctx['expected_fr']}" if lang == "fr" else f"{en}: expected {ctx['expected_en']}"
        )
    else:
        limits = {k: ctx[k] for k in _CONSTRAINTS if k in ctx}
        if limits:
            out["constraint"] = {k: _plain(v) for k, v in limits.items()}
            words = [
                (_CONSTRAINTS[k][0] if lang == "fr" else _CONSTRAINTS[k][1]).format(_plain(v))
                for k, v in limits.items()
            ]
            message = f"{fr if lang == 'fr' else en} ({', '.join(words)})"
    out["message"] = message or (fr if lang == "fr" else en)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value if isinstance(value, int | float | str | bool) or value is None else str(value)


_Table = dict[int, list[tuple[int, re.Pattern[str], set[str]]]]
_ANY_DEPTH = -1  # templates with a {…:path} parameter: any number of segments


def _route_table(app: FastAPI) -> _Table:
    """The route templates by number of ``/`` (a ``[^/]+`` parameter never spans one): a path is
    matched against its own depth's few templates, not all of them (this runs on every request)."""
    table: _Table | None = getattr(app.state, "allowed_methods", None)
    if table is None:
        from samaconso.kit.openapi import iter_routes  # the route table, without building the schema

        by_template: dict[str, set[str]] = {}
        for method, template, _route in iter_routes(app):
            by_template.setdefault(template, set()).add(method.upper())
        table = {}
        for template, methods in by_template.items():
            depth = _ANY_DEPTH if ":path}" in template else template.count("/")
            entry = (template.count("{"), compile_path(template)[0], methods - {"HEAD"})
            table.setdefault(depth, []).append(entry)
        app.state.allowed_methods = table
    return table


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method the API serves on ``path`` (Starlette's 405 names only the first route's)."""
    table = _route_table(app)
    candidates = table.get(path.count("/"), []) + table.get(_ANY_DEPTH, [])
    matches = [(params, found) for params, pattern, found in candidates if pattern.match(path)]
    fewest = min((params for params, _ in matches), default=0)
    methods: set[str] = set()
    for params, found in matches:
        if params == fewest:  # /me/meters/suggestions is that resource, not /me/meters/{meter_id}
            methods |= found
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        extra = {**exc.extra, **exc.localized_extra.get(request_language(request), {})}
        return problem_response(
            request, exc.status, exc.code, exc.detail_fr, exc.detail_en, headers=exc.headers, extra=extra
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code, fr, en = STATUS_TEXT.get(exc.status_code, ("error", "Erreur.", "Error."))
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            methods = allowed_methods(request.app, request.url.path)
            if methods:
                headers["Allow"] = ", ".join(methods)
        return problem_response(request, exc.status_code, code, fr, en, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        lang = request_language(request)
        errors = [field_error(err, lang) for err in exc.errors()]
        return problem_response(
            request,
            422,
            "validation_error",
            "Certaines données sont invalides.",
            "Some fields are invalid.",
            extra={"errors": errors},
        )

    @app.exception_handler(PoolTimeoutError)
    async def _pool_exhausted(request: Request, exc: PoolTimeoutError) -> JSONResponse:
        # Every database connection of this process is busy (a burst): the client retries shortly
        # instead of seeing a 500; the operators see the event (size the pools, docs/runbook).
        log.warning("database_pool_exhausted", path=request.url.path)
        busy = database_busy(POOL_RETRY_AFTER_S)
        return problem_response(
            request, busy.status, busy.code, busy.detail_fr, busy.detail_en, headers=busy.headers
        )

    @app.exception_handler(DBAPIError)
    async def _connection_lost(request: Request, exc: DBAPIError) -> JSONResponse:
        if not exc.connection_invalidated:
            return await _unexpected(request, exc)
        # The connection died under the request (PgBouncer or the network restarted): the pool has
        # dropped it and the transaction did not commit; the client retries on a fresh one.
        log.warning("database_connection_lost", path=request.url.path)
        busy = database_busy(POOL_RETRY_AFTER_S)
        return problem_response(
            request, busy.status, busy.code, busy.detail_fr, busy.detail_en, headers=busy.headers
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Where it failed, never what the exception says: driver messages may quote bound values.
        log.error(
            "unhandled_error",
            error_type=type(exc).__name__,
            path=request.url.path,
            frames=_frames(exc),
        )
        return problem_response(request, 500, *STATUS_TEXT[500])


def _frames(exc: BaseException, limit: int = 12) -> list[str]:
    """The innermost traceback frames as ``file:line function``, without any message."""
    frames = traceback.extract_tb(exc.__traceback__)[-limit:]
    return [f"{f.filename.rsplit('/site-packages/', 1)[-1]}:{f.lineno} {f.name}" for f in frames]
