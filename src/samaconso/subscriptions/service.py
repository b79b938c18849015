"""Subscription follow-up: a notice's steps, read from BI_ODS ``AVIS_ETAPES_HANA``.

Public (no account needed), so the caller proves they know both the notice number and the phone
on record; a wrong notice and a wrong phone give the same 404 so neither can be probed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from samaconso.identity.phones import InvalidPhone, normalize_phone
from samaconso.kit.cache import Cache
from samaconso.kit.errors import AppError
from samaconso.legacy.gateway import LegacyGateway
from samaconso.subscriptions.schemas import NoticeOut, NoticeStep

NOTICE_TTL_S = 300


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


def _date(value: Any) -> date | None:
    return date.fromisoformat(str(value)[:10]) if value else None


async def follow_notice(gateway: LegacyGateway, cache: Cache, number: str, phone: str) -> NoticeOut:
    caller_phone = _phone(phone)
    if caller_phone is None or not number.isalnum():
        raise notice_not_found()
    rows = await cache.get_or_load(
        f"legacy:notice:{number}", NOTICE_TTL_S, lambda: gateway.subscription_notice_steps(number)
    )
    if not rows or not any(_phone(r.get("TELEPHONE")) == caller_phone for r in rows):
        raise notice_not_found()
    rows = sorted(rows, key=lambda r: str(r.get("CODE_ETAPE") or ""))
    steps = [
        NoticeStep(
            code=str(r.get("CODE_ETAPE")),
            label=r.get("DESC_ETAPE"),
            finished=r.get("DATE_TERM") is not None,
            finished_on=_date(r.get("DATE_TERM")),
            finished_at_time=r.get("HEURE_TERM") if r.get("DATE_TERM") else None,
        )
        for r in rows
    ]
    updates = [datetime.fromisoformat(str(r["DT_DERNIERE_MAJ"])) for r in rows if r.get("DT_DERNIERE_MAJ")]
    last = max(updates) if updates else None
    head = rows[0]
    return NoticeOut(
        number=number,
        status=head.get("STATUT_AVIS"),
        first_name=head.get("PRENOM"),
        last_name=head.get("NOM"),
        steps=steps,
        steps_total=len(steps),
        steps_finished=sum(1 for s in steps if s.finished),
        updated_at=(last if last is None or last.tzinfo else last.replace(tzinfo=UTC)),
    )
