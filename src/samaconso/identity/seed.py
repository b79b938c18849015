"""Reference agencies (every profile) and demo accounts (embedded profile only). Idempotent."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.identity import repository as repo
from samaconso.identity.agency_names import legacy_key
from samaconso.identity.models import Role, User
from samaconso.kit.db import Database
from samaconso.kit.security import hash_secret
from samaconso.settings import Settings

# (code, name, region): Senelec commercial agencies ("agences") used to route meters and requests.
AGENCIES: tuple[tuple[str, str, str], ...] = (
    ("DKC", "Dakar Centre", "Dakar"),
    ("COL", "Colobane", "Dakar"),
    ("GDK", "Grand Dakar", "Dakar"),
    ("HLM", "HLM", "Dakar"),
    ("PAS", "Parcelles Assainies", "Dakar"),
    ("GUE", "Guédiawaye", "Dakar"),
    ("PIK", "Pikine", "Dakar"),
    ("THY", "Thiaroye", "Dakar"),
    ("RUF", "Rufisque", "Dakar"),
    ("THS", "Thiès", "Thiès"),
    ("MBR", "Mbour", "Thiès"),
    ("KLK", "Kaolack", "Kaolack"),
    ("STL", "Saint-Louis", "Saint-Louis"),
    ("LGA", "Louga", "Louga"),
    ("DBL", "Diourbel", "Diourbel"),
    ("TBA", "Touba", "Diourbel"),
    ("ZIG", "Ziguinchor", "Ziguinchor"),
    ("KLD", "Kolda", "Kolda"),
    ("TAM", "Tambacounda", "Tambacounda"),
    ("FTK", "Fatick", "Fatick"),
)

DEMO_CUSTOMER_PHONE = "+221771234567"
DEMO_CUSTOMER_PIN = "2580"
DEMO_AGENT_LOGIN = "agent.dakar"
DEMO_AGENT_PASSWORD = "Agent-Demo-2026"  # noqa: S105 - embedded demo account, never created in production
DEMO_ADMIN_LOGIN = "admin.national"
DEMO_ADMIN_PASSWORD = "Admin-Demo-2026"  # noqa: S105 - embedded demo account, never created in production


async def seed(db: Database, settings: Settings) -> list[str]:
    async with db.sessionmaker.begin() as session:  # one transaction, committed at the end
        await repo.add_missing_agencies(
            session,
            [{"code": c, "name": n, "region": r, "legacy_name": legacy_key(n)} for c, n, r in AGENCIES],
        )
        lines: list[str] = []
        if settings.profile == "embedded":
            dakar = await repo.agency_id_by_code(session, "DKC")
            if dakar is None:
                raise RuntimeError("reference agency DKC missing after seeding the agencies")
            demo: list[dict[str, Any]] = [
                {
                    "role": Role.customer,
                    "phone": DEMO_CUSTOMER_PHONE,
                    "pin_hash": hash_secret(DEMO_CUSTOMER_PIN),
                    "first_name": "Awa",
                    "last_name": "Diop",
                },
                {
                    "role": Role.agent,
                    "login": DEMO_AGENT_LOGIN,
                    "password_hash": hash_secret(DEMO_AGENT_PASSWORD),
                    "first_name": "Moussa",
                    "last_name": "Ndiaye",
                    "agency_id": dakar,
                },
                {
                    "role": Role.admin,
                    "login": DEMO_ADMIN_LOGIN,
                    "password_hash": hash_secret(DEMO_ADMIN_PASSWORD),
                    "first_name": "Fatou",
                    "last_name": "Sall",
                },
            ]
            for row in demo:
                if "phone" in row:
                    exists = await repo.phone_taken(session, row["phone"])
                else:
                    exists = await repo.login_taken(session, row["login"])
                if not exists:
                    session.add(User(**row))
            lines = [
                f"client  {DEMO_CUSTOMER_PHONE} / PIN {DEMO_CUSTOMER_PIN}  (POST /api/v1/auth/login)",
                f"agent   {DEMO_AGENT_LOGIN} / {DEMO_AGENT_PASSWORD}  (POST /api/v1/auth/staff/login)",
                f"admin   {DEMO_ADMIN_LOGIN} / {DEMO_ADMIN_PASSWORD}  (POST /api/v1/auth/staff/login)",
                "nouveau client : POST /api/v1/auth/otp puis /auth/signup (code SMS affiché ici et dans l'outbox)",
            ]
    return lines


async def demo_customer(session: AsyncSession) -> User | None:
    """The embedded demo customer (other domains' demo seeds build on it)."""
    return await repo.customer_by_phone(session, DEMO_CUSTOMER_PHONE)


async def demo_agent(session: AsyncSession) -> User | None:
    """The embedded demo agent of Dakar Centre."""
    return await repo.staff_by_login(session, DEMO_AGENT_LOGIN)
