"""Customer sign-up with an SMS code."""

from __future__ import annotations

import structlog
from sqlalchemy.exc import IntegrityError

from samaconso.identity import repository as repo
from samaconso.identity.audit import record_event
from samaconso.identity.context import Ctx, hash_new_secret
from samaconso.identity.devices import device_from
from samaconso.identity.models import (
    OtpPurpose,
    Role,
    User,
)
from samaconso.identity.otp_codes import consume_otp
from samaconso.identity.phones import mask_phone
from samaconso.identity.schemas import (
    SignupRequest,
)
from samaconso.identity.sessions import Issued, open_session
from samaconso.kit.errors import AppError

log = structlog.get_logger(__name__)


async def signup(ctx: Ctx, body: SignupRequest) -> Issued:
    session = ctx.session
    await consume_otp(ctx, body.phone, OtpPurpose.signup, body.otp)
    if await repo.phone_taken(session, body.phone):
        raise AppError(
            409,
            "phone_taken",
            "Ce numéro a déjà un compte : connectez-vous ou réinitialisez votre PIN.",
            "This number already has an account: sign in or reset your PIN.",
        )
    user = User(
        role=Role.customer,
        phone=body.phone,
        pin_hash=await hash_new_secret(body.pin),
        first_name=body.first_name,
        last_name=body.last_name,
        email=str(body.email) if body.email else None,
        language=body.language,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:
        raise AppError(
            409, "phone_taken", "Ce numéro a déjà un compte.", "This number already has an account."
        ) from None
    await session.refresh(user)
    device, _ = await device_from(ctx, user, body)
    issued = await open_session(ctx, user, device)
    record_event(ctx, "signup", user_id=user.id, phone=mask_phone(user.phone))
    return issued
