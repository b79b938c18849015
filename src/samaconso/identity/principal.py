"""Who is calling, as the services see it: a plain value, free of any HTTP framework.

The HTTP side (``identity/deps.py``) builds it from an access token; workers and the CLI build it
from a user record. Services take it as an argument and never import FastAPI.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from samaconso.identity.models import Role


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    session_id: uuid.UUID
    role: Role
    agency_id: uuid.UUID | None
    language: str

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.agent, Role.admin)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin


def session_cache_key(session_id: uuid.UUID | str) -> str:
    """Redis key of a session's cached state (role, agency, validity), dropped on revocation."""
    return f"authsess:{session_id}"
