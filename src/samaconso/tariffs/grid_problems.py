"""French wording of the tariff-grid problems (the engine states them in English).

The API answers ``problems`` in the response language: French by default, English on request."""

from __future__ import annotations

import re

_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(f"^{pattern}$"), french)
    for pattern, french in (
        (r"at least one tranche is required", "il faut au moins une tranche"),
        (r"the first tranche must start at 0 kWh", "la première tranche doit commencer à 0 kWh"),
        (
            r"tranche (\d+): only the last tranche may be unbounded",
            r"tranche \1 : seule la dernière tranche peut être illimitée",
        ),
        (
            r"tranche (\d+): upper bound must exceed lower bound",
            r"tranche \1 : la borne haute doit dépasser la borne basse",
        ),
        (
            r"tranche (\d+) must start where tranche (\d+) ends",
            r"la tranche \1 doit commencer où finit la tranche \2",
        ),
        (r"tranche (\d+): prices must be positive", r"tranche \1 : les prix doivent être positifs"),
        (r"the last tranche must be unbounded", "la dernière tranche doit être illimitée"),
        (r"effective_to is before effective_from", "effective_to précède effective_from"),
        (r"fee and rates must not be negative", "la redevance et les taux ne doivent pas être négatifs"),
        (r"the VAT threshold must not be negative", "le seuil de TVA ne doit pas être négatif"),
        (r"band (\d+): kwh_max must exceed kwh_min", r"bande \1 : kwh_max doit dépasser kwh_min"),
        (r"band (\d+) must start where band (\d+) ends", r"la bande \1 doit commencer où finit la bande \2"),
        (r"only the last band may be unbounded", "seule la dernière bande peut être illimitée"),
        (r"the first band must start at 0 kWh", "la première bande doit commencer à 0 kWh"),
    )
)


def in_french(problem: str) -> str:
    for pattern, french in _RULES:
        if pattern.match(problem):
            return pattern.sub(french, problem)
    return problem
