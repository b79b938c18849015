"""Meter registry and customer↔meter links: adding a meter, ownership, approvals, revocations.

Ownership follows the legacy systems: the customer whose phone equals the phone on record (both in
E.164) owns the meter. Anybody else gets a pending link the owner approves or refuses, and can later
revoke. Another user's link or meter answers 404, never 403, so ids cannot be probed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.identity.agency_names import legacy_key
from samaconso.identity.phones import InvalidPhone, mask_phone, normalize_phone
from samaconso.identity.principal import Principal
from samaconso.kit.errors import AppError
from samaconso.kit.notify import Notify
from samaconso.kit.pagination import Page, decode_time_cursor, encode_cursor, encode_time_cursor, parse_cursor
from samaconso.kit.transaction import after_commit
from samaconso.legacy.gateway import LegacyGateway
from samaconso.meters import repository as repo
from samaconso.meters.models import LinkStatus, Meter, MeterKind, MeterLink
from samaconso.meters.repository import MeterRef, MyMeterRow
from samaconso.meters.schemas import (
    AccessRequestOut,
    MemberOut,
    MeterBrief,
    MeterOut,
    Requester,
    StaffMeterOut,
    SuggestionOut,
)
from samaconso.settings import Settings

log = structlog.get_logger(__name__)


def meter_not_found() -> AppError:
    return AppError(404, "meter_not_found", "Compteur introuvable.", "Meter not found.")


def request_not_found() -> AppError:
    return AppError(
        404, "access_request_not_found", "Demande d'accès introuvable.", "Access request not found."
    )


def meter_already_linked() -> AppError:
    return AppError(
        409,
        "meter_already_linked",
        "Ce compteur est déjà dans votre liste.",
        "This meter is already in your list.",
    )


def access_request_pending() -> AppError:
    return AppError(
        409,
        "access_request_pending",
        "Votre demande d'accès à ce compteur attend déjà la réponse de son titulaire.",
        "Your access request for this meter is already waiting for its owner's answer.",
    )


@dataclass(frozen=True)
class RequestLimits:
    """How often someone may ask to follow another customer's meter (issue 12: people used as
    targets). From the settings ``meter_request_*`` / ``meter_pending_requests_per_owner``."""

    refusal_cooldown_s: int
    removal_cooldown_s: int
    notify_cooldown_s: int
    pending_per_owner: int

    @classmethod
    def from_settings(cls, settings: Settings) -> RequestLimits:
        return cls(
            refusal_cooldown_s=settings.meter_request_refusal_cooldown_s,
            removal_cooldown_s=settings.meter_request_removal_cooldown_s,
            notify_cooldown_s=settings.meter_request_notify_cooldown_s,
            pending_per_owner=settings.meter_pending_requests_per_owner,
        )


async def _may_ask(
    session: AsyncSession, meter: Meter, me: uuid.UUID, limits: RequestLimits, *, known: bool
) -> None:
    """Refuse a request within the cool-down after a refusal or a removal (429, Retry-After), or
    when the owner already has their cap of pending requests (409). ``known``: the meter was in
    the app before (only then can the caller have been refused or removed)."""
    if known:
        left = await repo.cooldown_left_s(
            session,
            meter.id,
            me,
            refusal_s=limits.refusal_cooldown_s,
            removal_s=limits.removal_cooldown_s,
        )
        if left > 0:
            raise AppError(
                429,
                "access_request_cooldown",
                "Le titulaire a refusé ou retiré votre accès à ce compteur récemment : "
                "vous pourrez redemander plus tard.",
                "The owner recently refused or removed your access to this meter: you may ask again later.",
                headers={"Retry-After": str(left)},
            )
    if await repo.pending_count_for_owner(session, meter) >= limits.pending_per_owner:
        raise AppError(
            409,
            "access_requests_full",
            "Le titulaire de ce compteur a trop de demandes en attente : réessayez quand il y aura répondu.",
            "This meter's owner has too many pending requests: retry once they have answered.",
        )


def unknown_in_legacy(kind: MeterKind) -> AppError:
    if kind == MeterKind.prepaid:
        return AppError(
            404,
            "meter_unknown",
            "Ce numéro de compteur Woyofal est inconnu de Senelec.",
            "This Woyofal meter number is unknown to Senelec.",
        )
    return AppError(
        404,
        "contract_unknown",
        "Ce numéro de compte contrat est inconnu de Senelec.",
        "This contract account number is unknown to Senelec.",
    )


def _e164(raw: Any) -> str | None:
    if not raw:
        return None
    try:
        return normalize_phone(str(raw))
    except InvalidPhone:
        return None


@dataclass(frozen=True)
class LegacyMeter:
    """What the legacy systems say about a meter or contract."""

    kind: MeterKind
    number: str
    poc: str | None
    partner: str | None
    tariff_code: str | None
    customer_name: str | None
    address: str | None
    phone: str | None  # E.164
    agency: str | None  # legacy agency name


async def lookup_legacy(gateway: LegacyGateway, kind: MeterKind, number: str) -> LegacyMeter | None:
    """Check a meter/contract in the legacy source (the gateway caches customer data 1 h)."""
    found = await gateway.meter(kind.value, number)
    if found is None:
        return None
    return LegacyMeter(
        kind=kind,
        number=number,
        poc=found.poc,
        partner=found.partner,
        tariff_code=found.tariff_code,
        customer_name=found.customer_name,
        address=found.address,
        phone=_e164(found.phone),
        agency=found.agency,
    )


def _meter_out_of_row(row: MyMeterRow) -> MeterOut:
    """:func:`_meter_out` of a row of the meter list (the same rule: holder's details once granted)."""
    granted = row.status == LinkStatus.active
    return MeterOut(
        id=row.id,
        kind=row.kind,
        number=row.number,
        poc=row.poc if granted else None,
        customer_name=row.customer_name if granted else None,
        address=row.address if granted else None,
        tariff_code=row.tariff_code,
        agency_id=row.agency_id,
        agency_name=row.agency_name,
        status=row.status,
        is_owner=row.is_owner,
        is_default=row.is_default,
        linked_at=row.linked_at,
    )


def _meter_out(link: MeterLink, meter: Meter, agency_name: str | None) -> MeterOut:
    # the holder's name and address only once access is granted: a number alone must not reveal them
    granted = link.status == LinkStatus.active
    return MeterOut(
        id=meter.id,
        kind=meter.kind,
        number=meter.number,
        poc=meter.poc if granted else None,
        customer_name=meter.customer_name if granted else None,
        address=meter.address if granted else None,
        tariff_code=meter.tariff_code,
        agency_id=meter.agency_id,
        agency_name=agency_name,
        status=link.status,
        is_owner=link.is_owner,
        is_default=link.is_default,
        linked_at=link.created_at,
    )


def _kind_fr(kind: MeterKind) -> str:
    return "compteur Woyofal" if kind == MeterKind.prepaid else "compte contrat"


def _kind_en(kind: MeterKind) -> str:
    return "Woyofal meter" if kind == MeterKind.prepaid else "contract account"


async def _notify(
    notify: Notify,
    session: AsyncSession,
    user_id: uuid.UUID,
    type_: str,
    meter: Meter,
    *,
    request_id: uuid.UUID | None = None,
    **texts: str,
) -> None:
    await notify(
        session,
        user_id=user_id,
        type=type_,
        title_fr=texts["title_fr"],
        body_fr=texts["body_fr"],
        title_en=texts["title_en"],
        body_en=texts["body_en"],
        data={
            "meter_id": str(meter.id),
            "link": f"samaconso://meters/{meter.id}",
            **({"request_id": str(request_id)} if request_id else {}),
        },
    )


async def add_meter(
    session: AsyncSession,
    gateway: LegacyGateway,
    principal: Principal,
    kind: MeterKind,
    number: str,
    *,
    notify: Notify,
    limits: RequestLimits,
) -> MeterOut:
    """Add a meter to my list: active at once for its owner, otherwise a pending request the owner
    is pushed about (once per :attr:`RequestLimits.notify_cooldown_s` for a requester and meter)."""
    me = principal.user_id
    existing = await repo.meter_by_number(session, kind, number)
    live = await repo.live_link(session, existing.id, me) if existing is not None else None
    if live is not None:
        raise access_request_pending() if live.status == LinkStatus.pending else meter_already_linked()
    legacy = await lookup_legacy(gateway, kind, number)
    if legacy is None:
        raise unknown_in_legacy(kind)
    my_phone = await repo.user_phone(session, me)
    agency = await repo.agency_by_legacy_name(session, legacy_key(legacy.agency)) if legacy.agency else None
    is_new = existing is None
    meter = existing or Meter(kind=kind, number=number)
    meter.poc = legacy.poc
    meter.partner = legacy.partner
    meter.tariff_code = legacy.tariff_code
    meter.customer_name = legacy.customer_name
    meter.address = legacy.address
    meter.legacy_phone = legacy.phone
    meter.legacy_agency = legacy.agency
    meter.agency_id = agency.id if agency else None
    is_owner = my_phone is not None and legacy.phone == my_phone
    if not is_owner:  # checked before a new meter joins the session (no autoflush of its insert)
        await _may_ask(session, meter, me, limits, known=not is_new)
    if is_new:
        session.add(meter)
    link = MeterLink(
        meter_id=meter.id,
        user_id=me,
        status=LinkStatus.active if is_owner else LinkStatus.pending,
        is_owner=is_owner,
        is_default=False,
    )
    try:
        await session.flush()
        link.meter_id = meter.id
        if is_owner and not await repo.has_default(session, me):
            link.is_default = True
        if is_owner:
            link.decided_at = func.now()
            link.decided_by = me
        session.add(link)
        await session.flush()
    except IntegrityError as exc:  # a concurrent add of the same meter
        raise meter_already_linked() from exc
    if not is_owner and legacy.phone:
        owner = await repo.customer_by_phone(session, legacy.phone)
        told = await repo.owner_notified_since(session, meter.id, me, limits.notify_cooldown_s)
        if owner is not None and owner.id != me and not told:
            link.owner_notified_at = func.now()
            await _notify(
                notify,
                session,
                owner.id,
                "meter_access_requested",
                meter,
                request_id=link.id,
                title_fr="Demande d'accès à votre compteur",
                body_fr=f"Un client demande à suivre votre {_kind_fr(kind)} {number}. Acceptez ou refusez dans l'application.",
                title_en="Access request to your meter",
                body_en=f"A customer asks to follow your {_kind_en(kind)} {number}. Approve or refuse in the app.",
            )
    await session.flush()
    await session.refresh(link)
    if is_new:

        async def tell_legacy() -> None:  # best effort, once the link is committed
            await gateway.record_app_meter(number, kind.value)

        after_commit(session, tell_legacy)
    log.info("meter_linked", meter_id=str(meter.id), status=link.status.value, new=is_new)
    return _meter_out(link, meter, agency.name if agency else None)


async def list_my_meters(
    session: AsyncSession, principal: Principal, cursor: str | None, limit: int
) -> Page[MeterOut]:
    rows = await repo.my_links(session, principal.user_id, decode_time_cursor(cursor), limit)
    more = len(rows) > limit
    rows = rows[:limit]
    items = [_meter_out_of_row(row) for row in rows]
    next_cursor = encode_time_cursor(rows[-1].linked_at, rows[-1].link_id) if more and rows else None
    return Page[MeterOut](items=items, next_cursor=next_cursor)


async def get_my_meter(session: AsyncSession, principal: Principal, meter_id: uuid.UUID) -> MeterOut:
    found = await repo.my_live_link(session, principal.user_id, meter_id)
    if found is None:
        raise meter_not_found()
    return _meter_out(*found)


def _refuse_unless_active(status: LinkStatus) -> None:
    if status not in (LinkStatus.active, LinkStatus.pending):
        raise meter_not_found()
    if status == LinkStatus.pending:
        raise AppError(
            409,
            "pending_owner_approval",
            "Ce compteur attend l'accord de son titulaire : ses données s'afficheront une fois l'accès accordé.",
            "This meter is waiting for its owner's approval: its data shows once access is granted.",
        )


async def active_meter_ref(session: AsyncSession, principal: Principal, meter_id: uuid.UUID) -> MeterRef:
    """:func:`active_meter` read as Core columns (the hot consumption routes: summary, purchases)."""
    ref = await repo.my_meter_ref(session, principal.user_id, meter_id)
    if ref is None:
        raise meter_not_found()
    _refuse_unless_active(ref.link_status)
    return ref


async def active_meter(session: AsyncSession, principal: Principal, meter_id: uuid.UUID) -> Meter:
    """The meter behind one of the caller's ACTIVE links (for consumption); 404 otherwise, and 409
    ``pending_owner_approval`` while the caller's link waits for the owner."""
    found = await repo.my_link_with_meter(session, principal.user_id, meter_id)
    if found is None:
        raise meter_not_found()
    _refuse_unless_active(found[0].status)
    return found[1]


async def revoke_links_of_closed_account(session: AsyncSession, user_id: uuid.UUID) -> None:
    """The meters part of closing an account: its pending and active links are revoked."""
    await repo.revoke_live_links_of_user(session, user_id)


async def remove_my_meter(session: AsyncSession, principal: Principal, meter_id: uuid.UUID) -> None:
    found = await repo.my_link_with_meter(session, principal.user_id, meter_id, for_update=True)
    if found is None:
        raise meter_not_found()
    link, _ = found
    was_default = link.is_default
    link.status = LinkStatus.revoked
    link.is_default = False
    link.decided_at = func.now()
    link.decided_by = principal.user_id
    await session.flush()
    if was_default:
        await repo.promote_some_default(session, principal.user_id)
    await session.flush()


async def set_default(session: AsyncSession, principal: Principal, meter_id: uuid.UUID) -> MeterOut:
    found = await repo.my_link_with_meter(session, principal.user_id, meter_id, for_update=True)
    if found is None:
        raise meter_not_found()
    link, meter = found
    if link.status != LinkStatus.active:
        raise AppError(
            409,
            "meter_not_active",
            "Ce compteur attend encore l'accord de son titulaire.",
            "This meter is still waiting for its owner's approval.",
        )
    await repo.clear_default(session, principal.user_id)
    link.is_default = True
    await session.flush()
    await session.refresh(link)
    return _meter_out(link, meter, await repo.agency_name(session, meter.agency_id))


def _request_out(link: MeterLink, meter: Meter, user: Any) -> AccessRequestOut:
    return AccessRequestOut(
        id=link.id,
        status=link.status,
        meter=MeterBrief(id=meter.id, kind=meter.kind, number=meter.number),
        requester=Requester(
            user_id=user.id,
            first_name=user.first_name,
            last_name=user.last_name,
            phone=mask_phone(user.phone),
        ),
        requested_at=link.created_at,
        decided_at=link.decided_at,
    )


async def list_access_requests(
    session: AsyncSession, principal: Principal, cursor: str | None, limit: int
) -> Page[AccessRequestOut]:
    phone = await repo.user_phone(session, principal.user_id)
    if phone is None:
        return Page[AccessRequestOut](items=[])
    rows = list(
        await repo.pending_requests_for_owner(
            session, phone, principal.user_id, decode_time_cursor(cursor), limit
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    items = [_request_out(link, meter, user) for link, meter, user in rows]
    next_cursor = encode_time_cursor(rows[-1][0].created_at, rows[-1][0].id) if more and rows else None
    return Page[AccessRequestOut](items=items, next_cursor=next_cursor)


async def _owned_link(
    session: AsyncSession, principal: Principal, link_id: uuid.UUID
) -> tuple[MeterLink, Meter]:
    """A link on a meter the caller owns (legacy phone = caller's phone); 404 for anyone else."""
    phone = await repo.user_phone(session, principal.user_id)
    found = await repo.link_with_meter(session, link_id)
    if (
        found is None
        or phone is None
        or found[1].legacy_phone != phone
        or found[0].user_id == principal.user_id
    ):
        raise request_not_found()
    return found


async def decide_access_request(
    session: AsyncSession, principal: Principal, link_id: uuid.UUID, *, approve: bool, notify: Notify
) -> AccessRequestOut:
    link, meter = await _owned_link(session, principal, link_id)
    if link.status != LinkStatus.pending:
        raise AppError(
            409,
            "access_request_decided",
            "Cette demande a déjà été traitée.",
            "This request was already decided.",
        )
    link.status = LinkStatus.active if approve else LinkStatus.refused
    link.decided_at = func.now()
    link.decided_by = principal.user_id
    await session.flush()
    if approve:
        await repo.promote_some_default(session, link.user_id)
        await _notify(
            notify,
            session,
            link.user_id,
            "meter_access_granted",
            meter,
            title_fr="Accès accordé",
            body_fr=f"Le titulaire du {_kind_fr(meter.kind)} {meter.number} a accepté votre demande.",
            title_en="Access granted",
            body_en=f"The owner of {_kind_en(meter.kind)} {meter.number} approved your request.",
        )
    else:
        await _notify(
            notify,
            session,
            link.user_id,
            "meter_access_refused",
            meter,
            title_fr="Accès refusé",
            body_fr=f"Le titulaire du {_kind_fr(meter.kind)} {meter.number} a refusé votre demande.",
            title_en="Access refused",
            body_en=f"The owner of {_kind_en(meter.kind)} {meter.number} refused your request.",
        )
    await session.flush()
    await session.refresh(link)
    user = await repo.user_brief(session, link.user_id)
    return _request_out(link, meter, user)


async def revoke_member(
    session: AsyncSession, principal: Principal, meter_id: uuid.UUID, user_id: uuid.UUID, *, notify: Notify
) -> None:
    phone = await repo.user_phone(session, principal.user_id)
    meter = await repo.meter(session, meter_id)
    if meter is None or phone is None or meter.legacy_phone != phone or user_id == principal.user_id:
        raise meter_not_found()
    link = await repo.live_link(session, meter_id, user_id)
    if link is None:
        raise AppError(
            404,
            "member_not_found",
            "Ce client n'a pas accès à ce compteur.",
            "This customer has no access to this meter.",
        )
    was_default = link.is_default
    link.status = LinkStatus.revoked
    link.is_default = False
    link.decided_at = func.now()
    link.decided_by = principal.user_id
    await session.flush()
    if was_default:
        await repo.promote_some_default(session, user_id)
    await _notify(
        notify,
        session,
        user_id,
        "meter_access_revoked",
        meter,
        title_fr="Accès retiré",
        body_fr=f"Le titulaire du {_kind_fr(meter.kind)} {meter.number} a retiré votre accès.",
        title_en="Access revoked",
        body_en=f"The owner of {_kind_en(meter.kind)} {meter.number} revoked your access.",
    )
    await session.flush()


async def staff_lookup(
    session: AsyncSession, principal: Principal, number: str, cursor: str | None, limit: int
) -> Page[StaffMeterOut]:
    scope = None if principal.is_admin else principal.agency_id
    if not principal.is_admin and scope is None:
        return Page[StaffMeterOut](items=[])
    after_values = parse_cursor(cursor, uuid.UUID)
    after = after_values[0] if after_values else None
    meters = list(await repo.staff_lookup(session, number, scope, after, limit))
    more = len(meters) > limit
    meters = meters[:limit]
    links = await repo.links_of_meters(session, [m.id for m in meters])
    by_meter: dict[uuid.UUID, list[MemberOut]] = {}
    for link in links:
        by_meter.setdefault(link.meter_id, []).append(
            MemberOut(link_id=link.id, user_id=link.user_id, status=link.status, is_owner=link.is_owner)
        )
    items = [
        StaffMeterOut(
            id=m.id,
            kind=m.kind,
            number=m.number,
            customer_name=m.customer_name,
            address=m.address,
            legacy_agency=m.legacy_agency,
            agency_id=m.agency_id,
            links=by_meter.get(m.id, []),
        )
        for m in meters
    ]
    return Page[StaffMeterOut](
        items=items, next_cursor=encode_cursor(meters[-1].id) if more and meters else None
    )


async def suggestions(
    session: AsyncSession,
    gateway: LegacyGateway,
    principal: Principal,
    cursor: str | None = None,
    limit: int = 20,
) -> Page[SuggestionOut]:
    """Meters (HEXING_INFOS_ADMINISTRATIVES) and contracts (SAP) registered under my phone that I
    have not added yet, so the app can offer them in one tap."""
    phone = await repo.user_phone(session, principal.user_id)
    if phone is None:
        return Page[SuggestionOut](items=[])
    national = phone[4:]

    after = parse_cursor(cursor, int)
    start = after[0] + 1 if after else 0  # position in the cached legacy list: stable for its TTL
    found = await gateway.meters_of_phone(national)
    skip = await repo.my_meter_keys(session, principal.user_id)
    items: list[SuggestionOut] = []
    last = 0
    for index, entry in enumerate(found):
        key = (entry.kind, entry.number)
        if key in skip:
            continue
        skip.add(key)  # the same meter twice in the legacy answers is offered once
        if index < start:
            continue
        if len(items) == limit:
            return Page[SuggestionOut](items=items, next_cursor=encode_cursor(last))
        items.append(
            SuggestionOut(kind=MeterKind(entry.kind), number=entry.number, customer_name=entry.customer_name)
        )
        last = index
    return Page[SuggestionOut](items=items)


MAX_METERS_PER_CUSTOMER = 50


async def my_active_meters(
    session: AsyncSession, principal: Principal, kind: MeterKind | None = None
) -> list[Meter]:
    """The meters the caller reads (active links), for views across all of them."""
    return list(await repo.active_meters_of_user(session, principal.user_id, kind, MAX_METERS_PER_CUSTOMER))


async def still_active(session: AsyncSession, user_id: uuid.UUID, meter_id: uuid.UUID) -> bool:
    """Whether the user still reads the meter (for periodic jobs acting on their behalf)."""
    return await repo.has_active_link(session, user_id, meter_id)


async def meter_by_id(session: AsyncSession, meter_id: uuid.UUID) -> Meter | None:
    return await repo.meter(session, meter_id)
