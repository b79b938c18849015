"""Embedded demo: an ongoing outage the Dakar agent declared for Dakar Centre (the demo customer's
agency), so ``GET /api/v1/me/outages`` shows it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from samaconso.identity.models import Role
from samaconso.identity.principal import Principal
from samaconso.identity.seed import DEMO_AGENT_LOGIN, demo_agent
from samaconso.kit.db import Database
from samaconso.notifications.schemas import BodyText, TitleText
from samaconso.outages import repository, service
from samaconso.outages.models import OutageCause
from samaconso.outages.schemas import OutageCreate
from samaconso.settings import Settings


async def seed(db: Database, settings: Settings) -> list[str]:
    if settings.profile != "embedded":
        return []
    async with db.sessionmaker.begin() as session:  # one transaction, committed at the end
        if await repository.any_outage(session):
            return []
        agent = await demo_agent(session)
        if agent is None or agent.agency_id is None:
            return []
        staff = Principal(
            user_id=agent.id, session_id=agent.id, role=Role.agent, agency_id=agent.agency_id, language="fr"
        )
        now = datetime.now(UTC)
        await service.declare(
            session,
            staff,
            OutageCreate(
                agency_ids=[agent.agency_id],
                cause=OutageCause.incident,
                starts_at=now - timedelta(minutes=45),
                expected_end_at=now + timedelta(hours=3),
                title=TitleText(
                    fr="Panne sur le réseau de Sicap Liberté", en="Network fault in Sicap Liberté"
                ),
                message=BodyText(
                    fr="Une équipe Senelec intervient sur un câble endommagé. Retour prévu dans la soirée.",
                    en="A Senelec team is repairing a damaged cable. Power expected back this evening.",
                ),
            ),
        )
    return [f"outages coupure en cours déclarée par {DEMO_AGENT_LOGIN} (GET /api/v1/me/outages)"]
