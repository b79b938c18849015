"""Secrets carried from v2 that break today's rules (``0000``, a 3-digit PIN, a short staff password).

v2 never enforced a PIN or password format, and its bcrypt hashes are imported as they are. Such a
secret opens the account **once**: the sign-in that upgrades its bcrypt hash to Argon2id succeeds and
tells the app to have a new one chosen (``pin_change_required`` / ``password_change_required``). A
weak secret under an Argon2id hash can only be one that already had its one sign-in (v3 refuses weak
secrets everywhere else), so the next sign-in with it is refused with a way out.
"""

from __future__ import annotations

from samaconso.identity.phones import pin_problem
from samaconso.kit.errors import AppError


def staff_password_problem(password: str) -> bool:
    """True when a staff password breaks today's rule (12 characters, letters and digits)."""
    return len(password) < 12 or password.isalpha() or password.isdigit()


def pin_is_weak(pin: str) -> bool:
    return pin_problem(pin) is not None


def pin_change_required_error() -> AppError:
    return AppError(
        403,
        "pin_change_required",
        "Votre code PIN ne respecte plus les règles de sécurité : choisissez-en un nouveau avec "
        "« Code PIN oublié ».",
        "Your PIN no longer meets the security rules: choose a new one with “Forgot PIN”.",
        extra={"pin_change_required": True},
    )


def password_change_required_error() -> AppError:
    return AppError(
        403,
        "password_change_required",
        "Votre mot de passe ne respecte plus les règles de sécurité : demandez à un administrateur "
        "de vous en attribuer un nouveau.",
        "Your password no longer meets the security rules: ask an administrator to set a new one.",
        extra={"password_change_required": True},
    )
