"""Senegalese mobile numbers (E.164) and PIN rules: one place, used everywhere."""

from __future__ import annotations

import itertools

import phonenumbers

SENEGAL_MOBILE_PREFIXES = ("70", "72", "75", "76", "77", "78")


class InvalidPhone(ValueError):
    pass


def normalize_phone(raw: str) -> str:
    """``77 123 45 67``, ``0022177…``, ``+221 77…`` → ``+221771234567``; anything else is refused."""
    text = "".join(raw.split()) if isinstance(raw, str) else ""
    if not text or len(text) > 24:
        raise InvalidPhone("empty or too long")
    try:
        number = phonenumbers.parse(text, "SN")
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone("unparsable") from exc
    national = str(number.national_number)
    if (
        number.country_code != 221
        or len(national) != 9
        or not national.startswith(SENEGAL_MOBILE_PREFIXES)
        or number.extension
    ):
        raise InvalidPhone("not a Senegalese mobile number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(phone: str | None) -> str | None:
    """``+221771234567`` → ``+22177***4567`` (for audit details and logs)."""
    if not phone:
        return None
    return phone[:6] + "***" + phone[-4:]


def pin_problem(pin: str) -> tuple[str, str] | None:
    """Why a PIN is refused (French, English), or None when it is acceptable."""
    if not (4 <= len(pin) <= 6) or not pin.isascii() or not pin.isdigit():
        return ("Le code PIN doit comporter 4 à 6 chiffres.", "The PIN must have 4 to 6 digits.")
    if len(set(pin)) == 1:
        return (
            "Le code PIN ne peut pas répéter le même chiffre.",
            "The PIN cannot repeat the same digit.",
        )
    steps = {int(b) - int(a) for a, b in itertools.pairwise(pin)}
    if steps in ({1}, {-1}):
        return (
            "Le code PIN ne peut pas être une suite (1234, 9876…).",
            "The PIN cannot be a straight sequence (1234, 9876…).",
        )
    return None
