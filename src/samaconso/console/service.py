"""What a counter agent does for a customer: find them, read their file, re-send a Woyofal token,
unlock the account, send a PIN-reset code; and a staff member's own password.

The agency rule: an agent sees and acts only on the customers with an active link to a meter of
their agency (an administrator: every customer). A customer outside the caller's reach answers 404,
as if unknown. Every action is written to the audit trail (``identity.audit``).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import structlog

from samaconso.console import repository as repo
from samaconso.console.schemas import (
    Colleague,
    CustomerBrief,
    CustomerDetail,
    CustomerMeter,
    CustomerRequestBrief,
    MeterPerson,
    TokenResent,
)
from samaconso.consumption.schemas import BillOut, PurchaseOut
from samaconso.consumption.service import bill_out, purchase_out
from samaconso.identity import repository as identity_repo
from samaconso.identity.audit import record_event
from samaconso.identity.context import Ctx, check_secret, hash_new_secret
from samaconso.identity.devices import device_out
from samaconso.identity.models import AuthSource, OtpPurpose, Role, User
from samaconso.identity.otp_codes import request_otp
from samaconso.identity.phones import InvalidPhone, mask_phone, normalize_phone
from samaconso.identity.principal import Principal
from samaconso.identity.sms import SmsError
from samaconso.identity.sms_delivery import deliver_sms
from samaconso.kit.errors import AppError, not_found, unavailable
from samaconso.kit.pagination import Page, encode_cursor, encode_time_cursor, parse_cursor, slice_sorted
from samaconso.legacy.gateway import LegacyGateway
from samaconso.meters.models import Meter, MeterKind
from samaconso.notifications import service as notifications
from samaconso.requests import service as requests

log = structlog.get_logger(__name__)


PURCHASE_LOOKBACK_DAYS = 365


def customer_not_found() -> AppError:
    return not_found(
        "Client introuvable (ou hors de votre agence).", "Customer not found (or not in your agency)."
    )


def _brief(user: User, now: datetime | None) -> CustomerBrief:
    return CustomerBrief(
        id=user.id,
        phone=user.phone,
        first_name=user.first_name,
        last_name=user.last_name,
        is_active=user.is_active,
        locked=bool(user.locked_until and now and user.locked_until > now),
        created_at=user.created_at,
    )


def _agency_scope(staff: Principal) -> uuid.UUID | None:
    if staff.is_admin:
        return None
    if staff.agency_id is None:  # an agent always has an agency; refuse rather than show all
        raise AppError(403, "no_agency", "Aucune agence rattachée à ce compte.", "No agency on this account.")
    return staff.agency_id


async def search(
    ctx: Ctx, staff: Principal, q: str, limit: int, after: tuple[datetime, uuid.UUID] | None
) -> Page[CustomerBrief]:
    """One box: a phone in any form, a meter or contract number (digits), or a name."""
    text = " ".join(q.split())
    if len(text) < 2:
        raise AppError(
            400, "query_too_short", "Saisissez au moins 2 caractères.", "Type at least 2 characters."
        )
    phone: str | None = None
    number: str | None = None
    name: str | None = None
    try:
        phone = normalize_phone(text)
    except InvalidPhone:
        phone = None
    compact = text.replace(" ", "")
    if compact.isdigit():
        number = compact
    elif phone is None:
        name = text
    rows = await repo.search_customers(
        ctx.session,
        phone=phone,
        text=name,
        number=number,
        agency_id=_agency_scope(staff),
        limit=limit,
        after=after,
    )
    now = await identity_repo.db_now(ctx.session)
    page = rows[:limit]
    nxt = encode_time_cursor(page[-1].created_at, page[-1].id) if len(rows) > limit and page else None
    return Page[CustomerBrief](items=[_brief(u, now) for u in page], next_cursor=nxt)


async def _reachable(ctx: Ctx, staff: Principal, customer_id: uuid.UUID, *, lock: bool = False) -> User:
    user = await repo.customer(ctx.session, customer_id, lock=lock)
    if user is None:
        raise customer_not_found()
    scope = _agency_scope(staff)
    if scope is not None and scope not in await repo.agencies_of_customer(ctx.session, user.id):
        raise customer_not_found()
    return user


async def detail(ctx: Ctx, staff: Principal, customer_id: uuid.UUID, lang: str) -> CustomerDetail:
    session = ctx.session
    user = await _reachable(ctx, staff, customer_id)
    now = await identity_repo.db_now(session)
    links = await repo.meters_of_customer(session, user.id)
    people = await repo.people_on_meters(session, [m.id for _, m in links])
    meters = [
        CustomerMeter(
            id=meter.id,
            kind=meter.kind.value,
            number=meter.number,
            customer_name=meter.customer_name,
            address=meter.address,
            agency=meter.legacy_agency,
            is_owner=link.is_owner,
            status=link.status.value,
            people=[
                MeterPerson(
                    user_id=p.id,
                    first_name=p.first_name,
                    last_name=p.last_name,
                    phone=p.phone,
                    is_owner=pl.is_owner,
                    status=pl.status.value,
                )
                for pl, p in people
                if pl.meter_id == meter.id
            ],
        )
        for link, meter in links
    ]
    devices = [device_out(d) for d in await repo.devices_of_customer(session, user.id)]
    en = lang == "en"
    requests = [
        CustomerRequestBrief(
            id=r.id,
            type=t.label_en if en else t.label_fr,
            status=r.status.value,
            comment=r.comment,
            created_at=r.created_at,
            due_at=r.due_at,
        )
        for r, t in await repo.requests_of_customer(session, user.id)
    ]
    as_customer = Principal(
        user_id=user.id, session_id=user.id, role=Role.customer, agency_id=None, language=user.language
    )
    feed, _ = await notifications.feed(session, as_customer, None, 20, lang)
    record_event(ctx, "customer_viewed", user_id=user.id, actor_id=staff.user_id)
    return CustomerDetail(
        customer=_brief(user, now),
        language=user.language,
        email=user.email,
        meters=meters,
        devices=devices,
        requests=requests,
        notifications=feed,
    )


async def _meter(
    ctx: Ctx, staff: Principal, customer_id: uuid.UUID, meter_id: uuid.UUID
) -> tuple[User, Meter]:
    user = await _reachable(ctx, staff, customer_id)
    meter = await repo.meter_of_customer(ctx.session, user.id, meter_id)
    if meter is None:
        raise not_found("Compteur introuvable pour ce client.", "Meter not found for this customer.")
    return user, meter


def _wrong_kind(kind: MeterKind) -> AppError:
    if kind == MeterKind.prepaid:
        return AppError(
            404, "not_prepaid", "Ce compteur n'est pas un compteur Woyofal.", "This is not a Woyofal meter."
        )
    return AppError(
        404, "not_postpaid", "Ce compteur n'est pas un compteur postpayé.", "This is not a postpaid meter."
    )


def _purchase_key(p: PurchaseOut) -> tuple[str, str]:
    return (p.date.isoformat(), p.order_number or "")


async def _purchases(gateway: LegacyGateway, meter: Meter) -> list[PurchaseOut]:
    last = datetime.now().date()
    rows = await gateway.purchases(
        meter.number, meter.poc or "", last - timedelta(days=PURCHASE_LOOKBACK_DAYS), last
    )
    return sorted((purchase_out(r) for r in rows), key=_purchase_key, reverse=True)


async def purchases(
    ctx: Ctx,
    gateway: LegacyGateway,
    staff: Principal,
    customer_id: uuid.UUID,
    meter_id: uuid.UUID,
    limit: int,
    cursor: str | None,
) -> Page[PurchaseOut]:
    """The meter's Woyofal purchases of the last 12 months, newest first, with their tokens."""
    _, meter = await _meter(ctx, staff, customer_id, meter_id)
    if meter.kind != MeterKind.prepaid:
        raise _wrong_kind(MeterKind.prepaid)
    items, nxt = slice_sorted(await _purchases(gateway, meter), _purchase_key, cursor, limit)
    return Page[PurchaseOut](items=items, next_cursor=nxt)


async def bills(
    ctx: Ctx,
    gateway: LegacyGateway,
    staff: Principal,
    customer_id: uuid.UUID,
    meter_id: uuid.UUID,
    limit: int,
    cursor: str | None,
) -> Page[BillOut]:
    """The meter's postpaid bills of the last 12 months, newest first."""
    _, meter = await _meter(ctx, staff, customer_id, meter_id)
    if meter.kind != MeterKind.postpaid:
        raise _wrong_kind(MeterKind.postpaid)
    last = datetime.now().date()
    rows = await gateway.bills(meter.number, last - timedelta(days=PURCHASE_LOOKBACK_DAYS), last)
    items = sorted((bill_out(r) for r in rows), key=lambda b: (b.date, b.number), reverse=True)
    page, nxt = slice_sorted(items, lambda b: (b.date.isoformat(), b.number), cursor, limit)
    return Page[BillOut](items=page, next_cursor=nxt)


def _token_message(p: PurchaseOut, language: str) -> str:
    tokens = " / ".join(p.tokens)
    day = p.date.strftime("%d/%m/%Y")
    if language == "en":
        return f"SamaConso: Woyofal purchase {p.order_number} of {day} ({p.amount:.0f} FCFA). Token: {tokens}"
    return f"SamaConso : achat Woyofal {p.order_number} du {day} ({p.amount:.0f} FCFA). Code : {tokens}"


async def resend_token(
    ctx: Ctx,
    gateway: LegacyGateway,
    staff: Principal,
    customer_id: uuid.UUID,
    meter_id: uuid.UUID,
    order_number: str,
) -> TokenResent:
    """Send a purchase's token(s) again by SMS to the customer's own phone (never to another)."""
    user, meter = await _meter(ctx, staff, customer_id, meter_id)
    if meter.kind != MeterKind.prepaid:
        raise _wrong_kind(MeterKind.prepaid)
    purchase = next((p for p in await _purchases(gateway, meter) if p.order_number == order_number), None)
    if purchase is None:
        raise not_found("Achat introuvable sur ce compteur.", "Purchase not found on this meter.")
    if not purchase.tokens:
        raise AppError(409, "no_token", "Cet achat n'a pas de code.", "This purchase has no token.")
    if not user.phone:
        raise AppError(409, "no_phone", "Ce client n'a pas de numéro.", "This customer has no phone number.")
    try:
        how = await deliver_sms(ctx.settings, user.phone, _token_message(purchase, user.language))
    except SmsError as exc:
        raise unavailable("sms", 60) from exc
    record_event(
        ctx,
        "token_resent",
        user_id=user.id,
        actor_id=staff.user_id,
        meter=meter.number,
        order_number=order_number,
        delivery=how,
    )
    log.info("token_resent", order_number=order_number, to_suffix=user.phone[-4:], delivery=how)
    return TokenResent(
        order_number=order_number, sent_to=mask_phone(user.phone) or "", tokens=len(purchase.tokens)
    )


async def unlock(ctx: Ctx, staff: Principal, customer_id: uuid.UUID) -> CustomerBrief:
    """Lift a PIN lockout and reset the wrong-PIN counter."""
    user = await _reachable(ctx, staff, customer_id, lock=True)
    was_locked = user.locked_until is not None or user.failed_attempts > 0
    user.failed_attempts = 0
    user.locked_until = None
    record_event(ctx, "customer_unlocked", user_id=user.id, actor_id=staff.user_id, was_locked=was_locked)
    await ctx.session.flush()
    return _brief(user, await identity_repo.db_now(ctx.session))


async def send_pin_reset_code(ctx: Ctx, staff: Principal, customer_id: uuid.UUID) -> int:
    """Send the customer the same PIN-reset code as "PIN oublié" in the app (same quotas)."""
    user = await _reachable(ctx, staff, customer_id)
    if not user.phone or not user.is_active:
        raise AppError(409, "account_inactive", "Ce compte est inactif.", "This account is inactive.")
    record_event(ctx, "pin_reset_code_sent", user_id=user.id, actor_id=staff.user_id)
    return await request_otp(ctx, user.phone, OtpPurpose.pin_reset, user.language)


async def change_own_password(ctx: Ctx, staff: Principal, current: str, new: str) -> None:
    """A local staff account changes its password (directory accounts change it in the directory).
    The other sessions of the account end; this one stays."""
    user = await identity_repo.user_by_id(ctx.session, staff.user_id, lock=True)
    if user is None or not staff.is_staff:
        raise AppError(403, "staff_only", "Réservé aux agents Senelec.", "Reserved to Senelec staff.")
    if user.auth_source == AuthSource.ldap:
        raise AppError(
            409,
            "directory_account",
            "Ce compte utilise l'annuaire : changez le mot de passe dans l'annuaire.",
            "This account uses the directory: change the password there.",
        )
    if not await check_secret(user.password_hash, current):
        record_event(ctx, "password_change_failed", user_id=user.id, actor_id=user.id)
        raise AppError(400, "wrong_password", "Mot de passe actuel incorrect.", "Current password is wrong.")
    if current == new:
        raise AppError(400, "same_password", "Choisissez un nouveau mot de passe.", "Choose a new password.")
    user.password_hash = await hash_new_secret(new)
    revoked = await identity_repo.revoke_sessions(
        ctx.session, "password_changed", user_id=user.id, except_session=staff.session_id
    )
    record_event(
        ctx, "password_changed", user_id=user.id, actor_id=user.id, other_sessions_ended=len(revoked)
    )
    ctx.forget_after_commit(revoked)


async def colleagues(
    ctx: Ctx, staff: Principal, agency_id: uuid.UUID | None, limit: int, cursor: str | None
) -> Page[Colleague]:
    """Who a request can be given to: an agent's own agency; an administrator chooses (or all).
    By name (last, first), then id; the cursor is the last one's."""
    scope = _agency_scope(staff) if not staff.is_admin else agency_id
    after = parse_cursor(cursor, str, str, uuid.UUID)
    rows = await repo.colleagues(ctx.session, scope, limit, after)
    page = rows[:limit]
    nxt = (
        encode_cursor(page[-1].last_name, page[-1].first_name, page[-1].id)
        if len(rows) > limit and page
        else None
    )
    items = [
        Colleague(
            id=u.id,
            login=u.login,
            first_name=u.first_name,
            last_name=u.last_name,
            role=u.role.value,
            agency_id=u.agency_id,
        )
        for u in page
    ]
    return Page[Colleague](items=items, next_cursor=nxt)


async def file_request(
    ctx: Ctx,
    staff: Principal,
    customer_id: uuid.UUID,
    *,
    type_code: str,
    meter_id: uuid.UUID | None,
    comment: str,
    attachments: list[uuid.UUID],
) -> uuid.UUID:
    """File a request for a walk-in customer (attachments: files the agent uploaded)."""
    user = await _reachable(ctx, staff, customer_id)
    if meter_id is not None and await repo.meter_of_customer(ctx.session, user.id, meter_id) is None:
        raise not_found("Compteur introuvable pour ce client.", "Meter not found for this customer.")
    as_customer = Principal(
        user_id=user.id, session_id=user.id, role=Role.customer, agency_id=None, language=user.language
    )
    view = await requests.submit(
        ctx.session,
        as_customer,
        type_code=type_code,
        meter_id=meter_id,
        comment=comment,
        attachments=attachments,
        filed_by=staff,
    )
    record_event(
        ctx,
        "request_filed_for_customer",
        user_id=user.id,
        actor_id=staff.user_id,
        request=str(view.request.id),
    )
    return view.request.id
