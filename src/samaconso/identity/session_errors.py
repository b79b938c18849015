"""Why a token stopped working, in words the app can act on (all 401, ``WWW-Authenticate``):

- ``token_expired``: the access token (or the whole session) reached its end — refresh, or sign in;
- ``device_signed_out``: this device was signed out (device limit, idle, removed by the owner);
- ``session_revoked``: the session was closed (logout, PIN change/reset, reuse of a rotated refresh
  token, account deactivated or agency closed);
- ``unauthenticated`` (deps) and ``invalid_refresh_token`` (refresh) stay for a token we do not know.
"""

from __future__ import annotations

from samaconso.kit.errors import AppError

_BEARER = {"WWW-Authenticate": "Bearer"}


def token_expired() -> AppError:
    return AppError(
        401,
        "token_expired",
        "Votre session a expiré : reconnectez-vous.",
        "Your session has expired: please sign in again.",
        headers=_BEARER,
    )


def device_signed_out() -> AppError:
    return AppError(
        401,
        "device_signed_out",
        "Cet appareil a été déconnecté de votre compte : reconnectez-vous.",
        "This device was signed out of your account: please sign in again.",
        headers=_BEARER,
    )


def session_revoked() -> AppError:
    return AppError(
        401,
        "session_revoked",
        "Votre session a été fermée : reconnectez-vous.",
        "Your session was closed: please sign in again.",
        headers=_BEARER,
    )


def session_ended(revoked_reason: str | None) -> AppError:
    """The error for a revoked session, by the reason recorded when it was revoked."""
    if revoked_reason and revoked_reason.startswith("device_"):
        return device_signed_out()
    return session_revoked()
