"""RFC 9457 problem details: one error type, one set of handlers, French and English text.

Raise :class:`AppError` anywhere (service or router); the handler turns it into
``application/problem+json`` with a stable ``code`` and a ``detail`` in the caller's language.
Nothing internal (stack trace, driver message, file path) ever reaches the response.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from samaconso.kit.i18n import negotiate

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"

# Generic messages for HTTP statuses raised by the framework itself.
_STATUS_TEXT: dict[int, tuple[str, str, str]] = {
    400: ("bad_request", "Requête invalide.", "Bad request."),
    401: ("unauthenticated", "Authentification requise.", "Authentication required."),
    403: ("forbidden", "Accès refusé.", "Access denied."),
    404: ("not_found", "Ressource introuvable.", "Resource not found."),
    405: ("method_not_allowed", "Méthode non autorisée.", "Method not allowed."),
    409: ("conflict", "Conflit avec l'état actuel de la ressource.", "Conflict with the current state."),
    413: ("payload_too_large", "Contenu trop volumineux.", "Payload too large."),
    415: ("unsupported_media_type", "Type de contenu non pris en charge.", "Unsupported media type."),
    422: ("validation_error", "Certaines données sont invalides.", "Some fields are invalid."),
    423: ("locked", "Ressource verrouillée.", "Resource locked."),
    429: ("too_many_requests", "Trop de requêtes, réessayez plus tard.", "Too many requests, retry later."),
    500: ("internal_error", "Erreur interne, veuillez réessayer.", "Internal error, please retry."),
    503: ("service_unavailable", "Service momentanément indisponible.", "Service temporarily unavailable."),
}


class AppError(Exception):
    """An error meant for the API caller."""

    def __init__(
        self,
        status: int,
        code: str,
        detail_fr: str,
        detail_en: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.detail_fr = detail_fr
        self.detail_en = detail_en or detail_fr
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def not_found(what_fr: str = "Ressource introuvable.", what_en: str = "Resource not found.") -> AppError:
    return AppError(404, "not_found", what_fr, what_en)


def forbidden(detail_fr: str = "Accès refusé.", detail_en: str = "Access denied.") -> AppError:
    return AppError(403, "forbidden", detail_fr, detail_en)


def unavailable(service: str, retry_after_s: int = 30) -> AppError:
    return AppError(
        503,
        f"{service}_unavailable",
        "Ce service est momentanément indisponible, réessayez dans quelques instants.",
        "This service is temporarily unavailable, please retry shortly.",
        headers={"Retry-After": str(retry_after_s)},
    )


def too_many(retry_after_s: int, code: str = "too_many_requests") -> AppError:
    return AppError(
        429,
        code,
        "Trop de tentatives. Réessayez plus tard.",
        "Too many attempts. Please retry later.",
        headers={"Retry-After": str(max(1, retry_after_s))},
    )


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
    title = _STATUS_TEXT.get(status, ("error", "Erreur", "Error"))
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
        code, fr, en = _STATUS_TEXT.get(exc.status_code, ("error", "Erreur.", "Error."))
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
        return problem_response(request, 500, *_STATUS_TEXT[500])


def _frames(exc: BaseException, limit: int = 12) -> list[str]:
    """The innermost traceback frames as ``file:line function``, without any message."""
    frames = traceback.extract_tb(exc.__traceback__)[-limit:]
    return [f"{f.filename.rsplit('/site-packages/', 1)[-1]}:{f.lineno} {f.name}" for f in frames]


class LocalizedValueError(ValueError):
    """A validation error whose message exists in French and English (used by pydantic validators)."""

    def __init__(self, fr: str, en: str) -> None:
        super().__init__(en)
        self.messages = {"fr": fr, "en": en}
