"""RFC 9457 problem details: one error type, French and English text.

This module is HTTP-free (services raise :class:`AppError`); the handlers that render it live in
:mod:`samaconso.kit.problems`.

Raise :class:`AppError` anywhere (service or router); the handler (``kit/problems.py``) turns it into
``application/problem+json`` with a stable ``code`` and a ``detail`` in the caller's language.
Nothing internal (stack trace, driver message, file path) ever reaches the response.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PROBLEM_JSON = "application/problem+json"

# Generic messages for HTTP statuses raised by the framework itself.
STATUS_TEXT: dict[int, tuple[str, str, str]] = {
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


class LocalizedValueError(ValueError):
    """A validation error whose message exists in French and English (used by pydantic validators)."""

    def __init__(self, fr: str, en: str) -> None:
        super().__init__(en)
        self.messages = {"fr": fr, "en": en}
