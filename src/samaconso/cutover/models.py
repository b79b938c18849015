"""Cutover tables: the v2 id → v3 id mapping (what makes ``import-v2`` idempotent) and the runs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Index, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from samaconso.kit.db import Base, UUIDPk


class V2IdMap(Base):
    """One row per v2 row brought across (or merged into another): ``(entity, v2_id) → v3_id``.

    ``entity`` is the v2 table (``user``, ``agence``, ``user_compteur``, ``user_session``,
    ``notification``, ``demande``); ``outcome`` is ``imported`` (it made or updates the v3 row) or
    ``merged`` (folded into the v3 row of another v2 row: same phone, same link…)."""

    __tablename__ = "cutover_v2_ids"

    entity: Mapped[str] = mapped_column(String(24), primary_key=True)
    v2_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    v3_id: Mapped[uuid.UUID]
    outcome: Mapped[str] = mapped_column(String(12))
    first_imported_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    last_imported_at: Mapped[datetime] = mapped_column(server_default=text("now()"))

    __table_args__ = (Index("ix_cutover_v2_ids_entity_v3", "entity", "v3_id"),)


class CutoverRun(UUIDPk, Base):
    """One ``import-v2`` run (dry runs are rolled back and leave no row) and its report."""

    __tablename__ = "cutover_runs"

    started_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    finished_at: Mapped[datetime | None]
    since: Mapped[datetime | None]
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    report: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))


class V2RowFingerprint(Base):
    """What each v2 row looked like when an import last read it (a 64-bit hash of the columns the
    import reads, computed by v2): the delta finds changed, new and deleted rows by comparing, not
    by v2's unreliable clocks. Kept for every row read, skipped ones included."""

    __tablename__ = "cutover_v2_rows"

    entity: Mapped[str] = mapped_column(String(24), primary_key=True)
    v2_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    fingerprint: Mapped[int] = mapped_column(BigInteger)
