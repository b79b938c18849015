"""Language negotiation: French by default, English when the client prefers it."""

from __future__ import annotations

from typing import Literal

Lang = Literal["fr", "en"]
SUPPORTED: tuple[Lang, ...] = ("fr", "en")


def negotiate(accept_language: str | None) -> Lang:
    """Pick ``fr`` or ``en`` from an ``Accept-Language`` header (q-values honoured)."""
    if not accept_language:
        return "fr"
    best: tuple[float, Lang] = (-1.0, "fr")
    for index, part in enumerate(accept_language.split(",")):
        fields = part.strip().split(";")
        tag = fields[0].strip().lower()
        quality = 1.0
        for param in fields[1:]:
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        primary = tag.split("-")[0]
        if primary in SUPPORTED and quality > 0:
            # earlier entries win ties, as browsers list preferences in order
            score = quality - index * 1e-6
            if score > best[0]:
                best = (score, primary)
    return best[1]


def preferred(accept_language: str | None) -> Lang | None:
    """The supported language an ``Accept-Language`` header asks for, or None when it names none."""
    if not accept_language:
        return None
    wanted = {part.strip().split(";")[0].strip().lower().split("-")[0] for part in accept_language.split(",")}
    if not wanted & set(SUPPORTED):
        return None
    return negotiate(accept_language)
