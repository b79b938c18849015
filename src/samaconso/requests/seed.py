"""The usual request types (every profile). Idempotent: existing codes are left as an admin set them."""

from __future__ import annotations

from samaconso.kit.db import Database
from samaconso.requests import repository
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


async def seed_types(db: Database, settings: Settings) -> list[str]:
    async with db.sessionmaker.begin() as session:  # one transaction, committed at the end
        created = await repository.add_missing_types(
            session,
            [{"code": c, "label_fr": fr, "label_en": en, "sla_hours": h} for c, fr, en, h in DEFAULT_TYPES],
        )
    return [f"request types: {len(created)} created, {len(DEFAULT_TYPES)} defaults"] if created else []


async def seed_demo_request(db: Database, settings: Settings) -> list[str]:
    """Embedded demo: a request of the demo customer that the Dakar agent resolved, so the demo
    customer can follow it by its reference, rate it and reopen it."""
    from samaconso.identity.models import Role
    from samaconso.identity.principal import Principal
    from samaconso.identity.seed import DEMO_AGENT_LOGIN, demo_agent, demo_customer
    from samaconso.requests import service
    from samaconso.requests.models import RequestStatus

    if settings.profile != "embedded":
        return []
    async with db.sessionmaker.begin() as session:  # one transaction, committed at the end
        customer = await demo_customer(session)
        agent = await demo_agent(session)
        if customer is None or agent is None:
            return []
        if await repository.has_request_from(session, customer.id):
            return []
        me = Principal(
            user_id=customer.id, session_id=customer.id, role=Role.customer, agency_id=None, language="fr"
        )
        staff = Principal(
            user_id=agent.id, session_id=agent.id, role=Role.agent, agency_id=agent.agency_id, language="fr"
        )
        view = await service.submit(
            session,
            me,
            type_code="reclamation_facture",
            meter_id=None,
            comment="Ma dernière facture me semble trop élevée par rapport aux mois précédents.",
            attachments=[],
        )
        rid = view.request.id
        await service.staff_update(
            session, staff, rid, assign_to_me=True, status=RequestStatus.in_progress, comment=None
        )
        await service.staff_update(
            session,
            staff,
            rid,
            assign_to_me=False,
            status=RequestStatus.resolved,
            comment="Relevé vérifié : la consommation facturée correspond à l'index. Détail des tranches dans la facture PDF.",
        )
        reference = view.request.reference
    return [
        f"requests demande {reference} du client démo, résolue par {DEMO_AGENT_LOGIN} (à noter ou rouvrir)"
    ]


async def seed(db: Database, settings: Settings) -> list[str]:
    return [*(await seed_types(db, settings)), *(await seed_demo_request(db, settings))]
