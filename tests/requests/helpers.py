"""Shared helpers for the requests, files and dashboard tests: meters, links, request types, uploads."""

from __future__ import annotations

import uuid
from itertools import count

from httpx import AsyncClient
from sqlalchemy import text

from samaconso.kit.db import Database
from samaconso.meters.models import LinkStatus, Meter, MeterKind, MeterLink
from samaconso.requests.seed import seed
from samaconso.settings import Settings

_numbers = count(1)

PNG_1PX = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)
PDF_MINI = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def seed_types(db: Database, settings: Settings) -> None:
    await seed(db, settings)


async def make_meter(
    db: Database,
    *,
    agency_id: uuid.UUID | None,
    kind: MeterKind = MeterKind.prepaid,
) -> uuid.UUID:
    async with db.sessionmaker() as session:
        meter = Meter(kind=kind, number=f"{14000000000 + next(_numbers)}", agency_id=agency_id)
        session.add(meter)
        await session.commit()
        return meter.id


async def link(
    db: Database,
    user_id: uuid.UUID,
    meter_id: uuid.UUID,
    *,
    status: LinkStatus = LinkStatus.active,
    is_owner: bool = True,
    is_default: bool = False,
) -> uuid.UUID:
    async with db.sessionmaker() as session:
        row = MeterLink(
            meter_id=meter_id, user_id=user_id, status=status, is_owner=is_owner, is_default=is_default
        )
        session.add(row)
        await session.commit()
        return row.id


async def upload(
    client: AsyncClient,
    headers: dict[str, str],
    data: bytes = PNG_1PX,
    name: str = "photo.png",
    content_type: str = "image/png",
) -> str:
    response = await client.post("/api/v1/files", headers=headers, files={"file": (name, data, content_type)})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def write_comments(db: Database, request_id: str, author_id: uuid.UUID, bodies: list[str]) -> None:
    """Customer comments written earlier, one statement each (each has its own clock time)."""
    async with db.sessionmaker() as session:
        for body in bodies:
            await session.execute(
                text(
                    "INSERT INTO request_events (id, request_id, at, actor_id, actor_role, kind, body) "
                    "VALUES (:id, :r, clock_timestamp(), :a, 'customer', 'comment', :b)"
                ),
                {"id": uuid.uuid4(), "r": uuid.UUID(request_id), "a": author_id, "b": body},
            )
        await session.commit()
