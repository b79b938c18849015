"""E.164 for a million v2 phones without parsing each one with ``phonenumbers`` (~70 µs a call, a
minute of CPU at national scale): the forms v2 actually holds (``771234567``, ``77 123 45 67``,
``+221…``, ``00221…``, ``221…``, dots or dashes) are recognised by one regular expression; anything
else goes to :func:`samaconso.identity.phones.normalize_phone`, the one rule. The shortcut only ever
answers what the rule would (checked by ``tests/cutover/test_phone_shortcut.py``)."""

from __future__ import annotations

import re

from samaconso.identity.phones import SENEGAL_MOBILE_PREFIXES, InvalidPhone, normalize_phone

_SHORT = 24  # normalize_phone refuses longer input (without its spaces): leave those to it
_SEPARATORS = re.compile(r"[\s.\-]+")
_PREFIXES = "|".join(SENEGAL_MOBILE_PREFIXES)
_COMMON_FORM = re.compile(rf"(?:\+221|00221|221)?((?:{_PREFIXES})[0-9]{{7}})", re.ASCII)


def to_e164(raw: str) -> str:
    """``normalize_phone(raw)``, fast for the common forms; raises :class:`InvalidPhone` likewise."""
    match = _COMMON_FORM.fullmatch(_SEPARATORS.sub("", raw)) if len(raw) <= _SHORT else None
    if match is not None:
        return "+221" + match.group(1)
    return normalize_phone(raw)


def to_e164_or_none(raw: object) -> str | None:
    if not raw:
        return None
    try:
        return to_e164(str(raw))
    except InvalidPhone:
        return None
