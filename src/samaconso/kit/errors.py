"""RFC 9457 problem details: one error type, French and English text.

This module is HTTP-free (services raise :class:`AppError`); the handlers that render it live in
:mod:`samaconso.kit.problems`.

Raise :class:`AppError` anywhere (service or router); the handler (``kit/problems.py``) turns it into
``application/problem+json`` with a stable ``code`` and a ``detail`` in the caller's language.
Nothing internal (stack trace, driver message, file path) ever reaches the response.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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
        localized_extra: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        super().__init__(code)
        self.localized_extra = {lang: dict(values) for lang, values in (localized_extra or {}).items()}
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


def database_busy(retry_after_s: int = 1) -> AppError:
    """Every database connection of the process stayed busy for the pool timeout (a burst)."""
    return AppError(
        503,
        "database_busy",
        "Service très sollicité, réessayez dans un instant.",
        "The service is very busy, please retry in a moment.",
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


# --- the error catalogue -------------------------------------------------------------------------
# Every ``code`` the API can answer, with its HTTP status and a French and English text, in one place.
# Published at ``GET /api/v1/errors`` and in the OpenAPI document; ``tests/contract/test_errors.py``
# checks that every code raised in ``src/`` is listed here and that every entry here is raised.
# A call site may give a more precise ``detail``; the text here says what the code means.


@dataclass(frozen=True)
class ErrorCode:
    status: int
    fr: str
    en: str


def _c(status: int, fr: str, en: str) -> ErrorCode:
    return ErrorCode(status, fr, en)


ERROR_CATALOGUE: dict[str, ErrorCode] = {
    # framework statuses (any route)
    **{code: _c(status, fr, en) for status, (code, fr, en) in STATUS_TEXT.items()},
    # 400: the request itself is wrong
    "unknown_query_parameter": _c(400, "Paramètre de requête inconnu.", "Unknown query parameter."),
    "invalid_cursor": _c(400, "Curseur de pagination invalide.", "Invalid pagination cursor."),
    "invalid_upload": _c(400, "Envoi de fichier invalide.", "Invalid file upload."),
    "invalid_period": _c(
        400, "La date de début suit la date de fin.", "The start date is after the end date."
    ),
    "period_too_long": _c(400, "Période trop longue (3 ans au plus).", "Period too long (3 years at most)."),
    "otp_invalid": _c(
        400, "Code de vérification invalide ou expiré.", "Invalid or expired verification code."
    ),
    "pin_incorrect": _c(400, "Code PIN actuel incorrect.", "Current PIN is incorrect."),
    "pin_unchanged": _c(400, "Choisissez un nouveau code PIN différent.", "Choose a different PIN."),
    "password_required": _c(
        400, "Un mot de passe est requis pour un compte local.", "A password is required for a local account."
    ),
    "agency_unknown": _c(400, "Agence inconnue.", "Unknown agency."),
    "agency_required": _c(400, "L'agence est obligatoire.", "The agency is required."),
    "cannot_demote_self": _c(
        400, "Vous ne pouvez pas retirer vos propres droits.", "You cannot remove your own rights."
    ),
    "agency_closed": _c(400, "Cette agence est fermée.", "This agency is closed."),
    "invalid_frame": _c(
        400,
        "Message WebSocket invalide (texte JSON attendu).",
        "Invalid WebSocket message (JSON text expected).",
    ),
    # 401 / 403: who is calling
    "invalid_credentials": _c(401, "Identifiants incorrects.", "Invalid credentials."),
    "invalid_refresh_token": _c(
        401, "Session expirée : connectez-vous à nouveau.", "Session expired: please sign in again."
    ),
    "session_expired": _c(
        401,
        "Session expirée (WebSocket) : reconnectez-vous avec un nouveau jeton.",
        "Session expired (WebSocket): reconnect with a fresh token.",
    ),
    "staff_only": _c(403, "Réservé aux agents Senelec.", "Reserved to Senelec staff."),
    "admin_only": _c(403, "Réservé aux administrateurs.", "Reserved to administrators."),
    "customer_only": _c(403, "Réservé aux clients de l'application.", "Reserved to app customers."),
    "no_agency": _c(
        403, "Aucune agence n'est rattachée à votre compte.", "No agency is attached to your account."
    ),
    "token_expired": _c(
        401, "Votre session a expiré : reconnectez-vous.", "Your session has expired: please sign in again."
    ),
    "session_revoked": _c(
        401,
        "Votre session a été fermée : reconnectez-vous.",
        "Your session was closed: please sign in again.",
    ),
    "device_signed_out": _c(
        401,
        "Cet appareil a été déconnecté de votre compte : reconnectez-vous.",
        "This device was signed out of your account: please sign in again.",
    ),
    "notification_type_reserved": _c(
        403,
        "Ce type de notification est réservé au système.",
        "This notification type is reserved to the system.",
    ),
    "priority_reserved": _c(
        403,
        "La priorité urgente est réservée aux coupures envoyées par un administrateur.",
        "Urgent priority is reserved to outages sent by an administrator.",
    ),
    # 404: nothing of that name for the caller
    "meter_not_found": _c(404, "Compteur introuvable.", "Meter not found."),
    "meter_unknown": _c(
        404, "Numéro de compteur Woyofal inconnu de Senelec.", "Woyofal meter number unknown to Senelec."
    ),
    "contract_unknown": _c(
        404, "Numéro de compte contrat inconnu de Senelec.", "Contract account number unknown to Senelec."
    ),
    "member_not_found": _c(
        404, "Ce client n'a pas accès à ce compteur.", "This customer has no access to this meter."
    ),
    "access_request_not_found": _c(404, "Demande d'accès introuvable.", "Access request not found."),
    "not_prepaid": _c(404, "Ce compteur n'est pas un compteur Woyofal.", "This is not a Woyofal meter."),
    "not_postpaid": _c(404, "Ce compteur n'est pas un compteur postpayé.", "This is not a postpaid meter."),
    "agency_not_found": _c(404, "Agence introuvable.", "Agency not found."),
    "file_not_found": _c(404, "Document introuvable.", "Document not found."),
    "notice_not_found": _c(404, "Avis d'abonnement introuvable.", "Subscription notice not found."),
    "request_not_found": _c(404, "Demande introuvable.", "Request not found."),
    "request_type_not_found": _c(404, "Type de demande introuvable.", "Request type not found."),
    "tariff_not_found": _c(404, "Tarif introuvable.", "Tariff not found."),
    # 409: the state forbids it
    "phone_taken": _c(409, "Ce numéro a déjà un compte.", "This number already has an account."),
    "login_taken": _c(409, "Cet identifiant est déjà utilisé.", "This login is already taken."),
    "agency_exists": _c(409, "Cette agence existe déjà.", "This agency already exists."),
    "meter_already_linked": _c(
        409, "Ce compteur est déjà dans votre liste.", "This meter is already in your list."
    ),
    "meter_not_active": _c(
        409,
        "Ce compteur attend encore l'accord de son titulaire.",
        "This meter is still waiting for its owner's approval.",
    ),
    "access_request_decided": _c(
        409, "Cette demande a déjà été traitée.", "This request was already decided."
    ),
    "access_request_pending": _c(
        409,
        "Votre demande d'accès à ce compteur attend déjà la réponse de son titulaire.",
        "Your access request for this meter is already waiting for its owner's answer.",
    ),
    "access_requests_full": _c(
        409,
        "Le titulaire de ce compteur a trop de demandes en attente.",
        "This meter's owner has too many pending requests.",
    ),
    "file_already_attached": _c(
        409, "Ce document est déjà joint à une demande.", "This document is already attached to a request."
    ),
    "file_attached": _c(
        409,
        "Ce document est joint à une demande et ne peut plus être supprimé.",
        "This document is attached to a request and can no longer be deleted.",
    ),
    "invalid_transition": _c(
        409, "Changement d'état impossible pour cette demande.", "This request cannot move to that state."
    ),
    "request_closed": _c(
        409,
        "Cette demande est close : elle ne peut plus être modifiée.",
        "This request is closed: it can no longer be changed.",
    ),
    "request_comments_full": _c(
        409,
        "Trop de messages sur cette demande : déposez une nouvelle demande ou passez en agence.",
        "Too many messages on this request: file a new request or visit your agency.",
    ),
    "request_type_exists": _c(
        409, "Ce code de type de demande existe déjà.", "This request type code already exists."
    ),
    "tariff_version_overlap": _c(
        409,
        "Cette version chevauche une version existante du tarif.",
        "This version overlaps an existing version of the tariff.",
    ),
    # 413 / 415: the uploaded content
    "file_too_large": _c(413, "Document trop volumineux.", "Document too large."),
    "image_too_large": _c(413, "Image trop volumineuse (2 Mo au plus).", "Image too large (2 MB at most)."),
    "unsupported_file_type": _c(
        415,
        "Type de document non pris en charge (PDF, JPEG, PNG).",
        "Unsupported document type (PDF, JPEG, PNG).",
    ),
    "unsupported_image": _c(
        415, "Image non prise en charge (JPEG, PNG, WebP).", "Unsupported image (JPEG, PNG, WebP)."
    ),
    # 422: well-formed but not acceptable
    "empty_file": _c(422, "Le document est vide.", "The document is empty."),
    "empty_update": _c(
        422,
        "Indiquez une prise en charge, un statut ou un commentaire.",
        "Give an assignment, a status or a comment.",
    ),
    "comment_required": _c(
        422,
        "Expliquez au client la résolution ou le rejet dans un commentaire.",
        "Explain the resolution or rejection to the customer in a comment.",
    ),
    "invalid_agency": _c(422, "Agence invalide.", "Invalid agency."),
    "unknown_request_type": _c(422, "Type de demande inconnu.", "Unknown request type."),
    "invalid_tariff_grid": _c(422, "Grille tarifaire incohérente.", "Inconsistent tariff grid."),
    "meter_not_prepaid": _c(
        422,
        "Le simulateur Woyofal concerne les compteurs prépayés.",
        "The Woyofal simulator is for prepaid meters.",
    ),
    "below_minimum_purchase": _c(
        422, "Montant inférieur à l'achat minimum.", "Amount below the minimum purchase."
    ),
    "invalid_kwh": _c(422, "Quantité de kWh invalide.", "Invalid kWh quantity."),
    "invalid_days": _c(
        422, "Nombre de jours facturés invalide (1 à 120).", "Invalid number of billed days (1 to 120)."
    ),
    "invalid_month_to_date": _c(422, "Consommation du mois invalide.", "Invalid month-to-date consumption."),
    "link_not_allowed": _c(
        422,
        "Lien non autorisé : seuls l'application et senelec.sn sont permis.",
        "Link not allowed: only the app and senelec.sn are permitted.",
    ),
    # codes of the screens of issue 18 and the v2 cutover
    "bill_not_found": _c(404, "Facture introuvable.", "Bill not found."),
    "outage_not_found": _c(404, "Coupure introuvable.", "Outage not found."),
    "already_rated": _c(409, "Cette résolution est déjà notée.", "This resolution is already rated."),
    "not_resolved": _c(409, "La demande n'est pas résolue.", "The request is not resolved."),
    "outage_ended": _c(409, "Cette coupure est terminée.", "This outage has ended."),
    "pending_owner_approval": _c(
        409, "Ce compteur attend l'accord de son titulaire.", "This meter awaits its owner's approval."
    ),
    "reopen_window_passed": _c(
        409, "Le délai pour rouvrir cette demande est passé.", "The time to reopen this request has passed."
    ),
    "password_change_required": _c(
        403, "Changez votre mot de passe pour continuer.", "Change your password to continue."
    ),
    "pin_change_required": _c(403, "Changez votre code PIN pour continuer.", "Change your PIN to continue."),
    "duplicate_meter": _c(422, "Compteur en double dans la liste.", "Duplicate meter in the list."),
    "unknown_agency": _c(422, "Agence inconnue.", "Unknown agency."),
    "outage_end_before_start": _c(
        422, "La fin prévue doit suivre le début.", "The expected end must come after the start."
    ),
    # codes of the agency console's staff routes (issue 15)
    "query_too_short": _c(400, "Saisissez au moins 2 caractères.", "Type at least 2 characters."),
    "wrong_password": _c(400, "Mot de passe actuel incorrect.", "Current password is wrong."),
    "same_password": _c(400, "Choisissez un nouveau mot de passe.", "Choose a new password."),
    "assignee_not_in_agency": _c(
        400,
        "Ce collègue n'est pas un agent actif de l'agence de la demande.",
        "This colleague is not an active agent of the request's agency.",
    ),
    "directory_account": _c(
        409,
        "Ce compte utilise l'annuaire : changez le mot de passe dans l'annuaire.",
        "This account uses the directory: change the password there.",
    ),
    "no_token": _c(409, "Cet achat n'a pas de code.", "This purchase has no token."),
    "no_phone": _c(409, "Ce client n'a pas de numéro.", "This customer has no phone number."),
    "account_inactive": _c(409, "Ce compte est inactif.", "This account is inactive."),
    "same_agency": _c(409, "La demande est déjà dans cette agence.", "The request is already there."),
    "invalid_assignee": _c(
        422, "Assigné invalide (me, none ou un id).", "Invalid assignee (me, none or an id)."
    ),
    # 423 / 429: slow down
    "account_locked": _c(
        423,
        "Compte verrouillé temporairement après trop d'échecs.",
        "Account temporarily locked after too many failures.",
    ),
    "otp_quota_exceeded": _c(
        429, "Trop de codes demandés pour ce numéro.", "Too many codes requested for this number."
    ),
    "too_many_meter_additions": _c(
        429, "Trop d'ajouts de compteurs, réessayez plus tard.", "Too many meter additions, retry later."
    ),
    "access_request_cooldown": _c(
        429,
        "Le titulaire a refusé ou retiré votre accès récemment : redemandez plus tard.",
        "The owner recently refused or removed your access: ask again later.",
    ),
    "too_many_comments": _c(
        429,
        "Trop de messages sur cette demande, réessayez plus tard.",
        "Too many messages on this request, retry later.",
    ),
    "simulator_rate_limited": _c(
        429, "Trop de simulations, réessayez dans une minute.", "Too many simulations, retry in a minute."
    ),
    "notification_rate_limited": _c(
        429,
        "Trop de notifications envoyées, réessayez plus tard.",
        "Too many notifications sent, retry later.",
    ),
    # 503: a system behind the API is down (Retry-After says when to retry)
    "database_busy": _c(
        503,
        "Service très sollicité, réessayez dans un instant.",
        "The service is very busy, please retry in a moment.",
    ),
    "rate_limit_unavailable": _c(
        503,
        "Service momentanément indisponible, réessayez dans quelques instants.",
        "Service temporarily unavailable, please retry shortly.",
    ),
    "dashboard_warming_up": _c(
        503, "Le tableau de bord est en cours de calcul.", "The dashboard is being computed."
    ),
    **{
        f"{service}_unavailable": _c(
            503,
            f"Service momentanément indisponible ({label_fr}).",
            f"Service temporarily unavailable ({label_en}).",
        )
        for service, label_fr, label_en in (
            ("legacy_sic", "système clientèle SIC", "SIC customer system"),
            ("legacy_histh2mc", "historique HISTH2MC", "HISTH2MC history"),
            ("legacy_bi_ods", "entrepôt BI_ODS", "BI_ODS warehouse"),
            ("ldap", "annuaire des agents", "staff directory"),
            ("sms", "passerelle SMS", "SMS gateway"),
            ("storage", "stockage des fichiers", "file storage"),
            ("refresh", "renouvellement de session", "session refresh"),
        )
    },
}


def catalogue_entries() -> list[dict[str, Any]]:
    """The catalogue as published: one object per code, sorted by status then code."""
    return [
        {"code": code, "status": entry.status, "title": {"fr": entry.fr, "en": entry.en}}
        for code, entry in sorted(ERROR_CATALOGUE.items(), key=lambda item: (item[1].status, item[0]))
    ]


def codes_for_status(status: int) -> list[str]:
    return sorted(code for code, entry in ERROR_CATALOGUE.items() if entry.status == status)
