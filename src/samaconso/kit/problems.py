"""The HTTP side of RFC 9457 problem details: the exception handlers that render :class:`AppError`,
framework errors and validation errors as ``application/problem+json`` in the caller's language."""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from samaconso.kit.errors import PROBLEM_JSON, STATUS_TEXT, AppError
from samaconso.kit.i18n import negotiate

log = structlog.get_logger("samaconso.kit.errors")


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
    lang = negotiate(request.headers.get("accept-language"))
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
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        return problem_response(
            request, exc.status, exc.code, exc.detail_fr, exc.detail_en, headers=exc.headers, extra=exc.extra
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code, fr, en = STATUS_TEXT.get(exc.status_code, ("error", "Erreur.", "Error."))
        return problem_response(request, exc.status_code, code, fr, en, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        lang = negotiate(request.headers.get("accept-language"))
        errors = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
            kind = str(err.get("type", "value_error"))
            fr, en = _FIELD_MESSAGES.get(kind, ("valeur invalide", "invalid value"))
            message = err.get("msg", "") if kind == "value_error" and lang == "en" else None
            if kind == "value_error":
                ctx_error = (err.get("ctx") or {}).get("error")
                if ctx_error is not None:
                    localized = getattr(ctx_error, "messages", None)
                    if isinstance(localized, dict):
                        message = localized.get(lang)
            errors.append(
                {
                    "field": ".".join(loc) or None,
                    "code": kind,
                    "message": message or (fr if lang == "fr" else en),
                }
            )
        return problem_response(
            request,
            422,
            "validation_error",
            "Certaines données sont invalides.",
            "Some fields are invalid.",
            extra={"errors": errors},
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
