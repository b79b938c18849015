"""Closing a customer account: identity erases the person, meters revokes their links.

Identity does not touch the meters' tables (meters reads identity's users, not the other way
round); this flow calls both services in the request's transaction.
"""

from __future__ import annotations

from samaconso.identity import service as identity
from samaconso.identity.principal import Principal
from samaconso.meters import service as meters


async def close_account(ctx: identity.Ctx, principal: Principal) -> None:
    erased = await identity.erase_account(ctx, principal)
    await meters.revoke_links_of_closed_account(ctx.session, erased.user_id)
