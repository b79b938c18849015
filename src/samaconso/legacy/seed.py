"""``samaconso seed`` (``make run``): a small simulated legacy source including the demo scenario."""

from __future__ import annotations

from samaconso.kit.db import Database
from samaconso.legacy import generator as g
from samaconso.settings import Settings

EMBEDDED_CUSTOMERS = 300


async def seed(db: Database, settings: Settings) -> list[str]:
    if settings.profile != "embedded" or settings.legacy_backend != "simulated":
        return []
    from samaconso.legacy.gateway import simulated_url

    url = simulated_url(settings)
    if not await g.is_seeded(url):
        await g.load(url, EMBEDDED_CUSTOMERS)
    return [
        f"legacy  source simulée {url.rsplit('/', 1)[-1]} : Woyofal {g.DEMO_PREPAID_METER}, "
        f"contrat {g.DEMO_POSTPAID_CONTRACT} (client démo), compteur d'un tiers {g.OTHER_PREPAID_METER} "
        f"(demande en attente), avis {g.DEMO_NOTICE} (GET /api/v1/subscription-notices/{g.DEMO_NOTICE}"
        f"?phone={g.DEMO_PHONE})",
    ]
