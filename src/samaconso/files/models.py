"""Uploaded documents (request attachments) kept in the ``documents`` S3 bucket."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from samaconso.kit.db import Base, UUIDPk


class StoredFile(UUIDPk, Base):
    __tablename__ = "stored_files"

    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    bucket: Mapped[str] = mapped_column(String(63))
    key: Mapped[str] = mapped_column(String(200), unique=True)  # made by the server, never by the client
    content_type: Mapped[str] = mapped_column(String(64))  # detected from the content, not the client
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    original_name: Mapped[str] = mapped_column(String(255))  # metadata only, never used as a key
    # NULL while unattached; unattached files older than 24 h are purged.
    request_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("customer_requests.id", ondelete="SET NULL")
    )
    attached_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))

    __table_args__ = (
        Index("ix_stored_files_owner_created", "owner_id", "created_at"),
        Index("ix_stored_files_request", "request_id"),
        Index("ix_stored_files_unattached", "created_at", postgresql_where=text("request_id IS NULL")),
    )
