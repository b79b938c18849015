"""How agency names are matched with the legacy systems (which spell them their own way)."""

from __future__ import annotations

import unicodedata


def legacy_key(name: str) -> str:
    """How agency names are compared with the legacy systems: upper case, no accents, single spaces."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return " ".join(ascii_name.upper().replace("-", " ").split())
