"""Create users and sessions directly in the database and mint access tokens for them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from samaconso.identity.models import AuthSession, Role, User
from samaconso.kit.db import Database
from samaconso.kit.security import hash_secret, issue_access_token
from samaconso.settings import Settings


@dataclass
class TestUser:
    __test__ = False  # a helper, not a test class
    id: uuid.UUID
    role: Role
    token: str
    session_id: uuid.UUID
    phone: str | None
    agency_id: uuid.UUID | None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


_counter = iter(range(1_000_000))


async def make_user(
    db: Database,
    settings: Settings,
    role: Role = Role.customer,
    *,
    phone: str | None = None,
    agency_id: uuid.UUID | None = None,
    pin: str = "2580",
    first_name: str = "Test",
    last_name: str = "User",
) -> TestUser:
    n = next(_counter)
    if role == Role.customer and phone is None:
        phone = f"+22177{n % 10_000_000:07d}"
    async with db.sessionmaker() as session:
        user = User(
            role=role,
            phone=phone if role == Role.customer else None,
            login=None if role == Role.customer else f"staff{n}",
            pin_hash=hash_secret(pin) if role == Role.customer else None,
            password_hash=None if role == Role.customer else hash_secret("Staff-Password-1"),
            first_name=first_name,
            last_name=last_name,
            agency_id=agency_id,
        )
        session.add(user)
        await session.flush()
        auth = AuthSession(user_id=user.id, expires_at=datetime.now(UTC) + timedelta(days=30))
        session.add(auth)
        await session.commit()
        token = issue_access_token(settings, user_id=user.id, session_id=auth.id, role=role.value)
        return TestUser(user.id, role, token, auth.id, user.phone, agency_id)
