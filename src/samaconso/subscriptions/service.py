"""Subscription follow-up: a notice's steps, read from BI_ODS ``AVIS_ETAPES_HANA``.

Public (no account needed), so the caller proves they know both the notice number and the phone
on record; a wrong notice and a wrong phone give the same 404 so neither can be probed.
"""

from __future__ import annotations

from typing import Any

from samaconso.identity.phones import InvalidPhone, normalize_phone
from samaconso.kit.errors import AppError
from samaconso.legacy.gateway import LegacyGateway
from samaconso.subscriptions.schemas import NoticeOut, NoticeStep


def notice_not_found() -> AppError:
    return AppError(
        404,
        "notice_not_found",
        "Aucune demande d'abonnement ne correspond à ce numéro et ce téléphone.",
        "No subscription request matches this number and phone.",
    )


def _phone(raw: Any) -> str | None:
    try:
        return normalize_phone(str(raw)) if raw else None
    except InvalidPhone:
        return None


async def follow_notice(gateway: LegacyGateway, number: str, phone: str) -> NoticeOut:
    caller_phone = _phone(phone)
    if caller_phone is None or not number.isalnum():
        raise notice_not_found()
    rows = await gateway.notice_steps(number)  # cached by the gateway
    if not rows or not any(_phone(r.phone) == caller_phone for r in rows):
        raise notice_not_found()
    rows = sorted(rows, key=lambda r: r.code)
    steps = [
        NoticeStep(
            code=r.code,
            label=r.label,
            finished=r.finished_on is not None,
            finished_on=r.finished_on,
            finished_at_time=r.finished_at_time,
        )
        for r in rows
    ]
    updates = [r.updated_at for r in rows if r.updated_at is not None]
    head = rows[0]
    return NoticeOut(
        number=number,
        status=head.status,
        first_name=head.first_name,
        last_name=head.last_name,
        steps=steps,
        steps_total=len(steps),
        steps_finished=sum(1 for s in steps if s.finished),
        updated_at=max(updates) if updates else None,
    )
