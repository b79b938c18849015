"""The usual request types (every profile). Idempotent: existing codes are left as an admin set them."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert

from samaconso.kit.db import Database
from samaconso.requests.models import RequestType
from samaconso.settings import Settings

# (code, French label, English label, SLA in hours)
DEFAULT_TYPES: tuple[tuple[str, str, str, int], ...] = (
    ("reclamation_facture", "Réclamation sur facture", "Bill complaint", 72),
    ("coupure_panne", "Coupure / panne", "Outage / fault", 24),
    ("changement_compteur", "Changement de compteur", "Meter replacement", 240),
    ("demande_branchement", "Demande de branchement", "New connection request", 480),
    ("mise_a_jour_informations", "Mise à jour des informations", "Information update", 120),
    ("autre", "Autre", "Other", 168),
)


async def seed(db: Database, settings: Settings) -> list[str]:
    async with db.sessionmaker.begin() as session:  # one transaction, committed at the end
        result = await session.execute(
            insert(RequestType)
            .values(
                [
                    {"code": c, "label_fr": fr, "label_en": en, "sla_hours": h}
                    for c, fr, en, h in DEFAULT_TYPES
                ]
            )
            .on_conflict_do_nothing(index_elements=["code"])
            .returning(RequestType.code)
        )
        created = result.scalars().all()
    return [f"request types: {len(created)} created, {len(DEFAULT_TYPES)} defaults"] if created else []
