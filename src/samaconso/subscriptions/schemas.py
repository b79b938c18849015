"""Subscription follow-up shapes (new-connection notices, "avis d'abonnement")."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel


class NoticeStep(BaseModel):
    code: str
    label: str | None
    finished: bool
    finished_on: date | None
    finished_at_time: str | None


class NoticeOut(BaseModel):
    number: str
    status: str | None
    first_name: str | None
    last_name: str | None
    steps: list[NoticeStep]  # ordered by step code
    steps_total: int
    steps_finished: int
    updated_at: datetime | None
