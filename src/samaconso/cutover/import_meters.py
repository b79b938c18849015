"""Meters, links and devices.

* A v2 link (``user_compteur``) names its meter by ``compteur.numero`` / ``numero_compteur``
  (prepaid) or the contract account (postpaid); v3 has one meter per (kind, number), so duplicate
  ``compteur`` rows collapse. Links of one v3 user to one meter (duplicates, or accounts merged by
  phone) become one link: owner if any was, active if any was, default if any was.
* ``est_active`` false → ``pending`` (the request is kept, nobody is notified again); NULL → active.
* One default meter per user: the most recent v2 link flagged ``default``.
* **Owners re-decided**: a link's user owns the meter when their E.164 phone is the phone the legacy
  system holds for it (asked in bulk through the legacy gateway, kept on ``meters.legacy_phone``).
  An owner's pending link becomes active. When the legacy system does not know the meter or cannot
  be reached, the v2 flag stays (reported).
* Devices: active v2 sessions with an FCM token; one token = one device (its most recent session);
  the two most recent per customer. The idle clock starts at the import (``last_seen_at = now()``),
  so a broadcast on day one reaches them. Refresh tokens are not carried.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from samaconso.cutover.import_context import ImportContext
from samaconso.cutover.phone_shortcut import to_e164_or_none
from samaconso.identity.agency_names import legacy_key
from samaconso.kit.security import token_digest
from samaconso.legacy.gateway import LegacyGateway

LEGACY_CHUNK = 500
LEGACY_PARALLEL = 4
_SPACES = re.compile(r"\s+")

STAGE_LINKS = """
CREATE TEMP TABLE st_links (
    v2_id bigint PRIMARY KEY, v2_user_id bigint, kind text, number text, is_owner boolean,
    is_active boolean, is_default boolean, poc text, tariff text, customer_name text, address text,
    legacy_agency text, agency_id uuid, created_at timestamptz, skip text,
    user_v3 uuid, meter_v3 uuid
) ON COMMIT DROP
"""
LINK_COLUMNS = (
    "v2_id",
    "v2_user_id",
    "kind",
    "number",
    "is_owner",
    "is_active",
    "is_default",
    "poc",
    "tariff",
    "customer_name",
    "address",
    "legacy_agency",
    "agency_id",
    "created_at",
    "skip",
)


def _clean(value: Any, limit: int) -> str | None:
    text = _SPACES.sub(" ", str(value)).strip() if value is not None else ""
    return text[:limit] or None


def link_row(ctx: ImportContext, row: tuple[Any, ...]) -> tuple[Any, ...]:
    (
        v2_id,
        user_id,
        kind_id,
        numero,
        numero_compteur,
        contract,
        owner,
        active,
        default,
        poc,
        tariff,
        name,
        address,
        agency_name,
        agency_id,
        created,
    ) = row
    skip = None
    kind = {1: "prepaid", 2: "postpaid"}.get(kind_id)
    candidates = (numero, numero_compteur) if kind == "prepaid" else (contract, numero_compteur, numero)
    number = next((n for n in (_SPACES.sub("", str(c or "")) for c in candidates) if n), None)
    if kind is None:
        skip = "unknown_meter_type"
    elif number is None or len(number) > 20:
        skip = "no_meter_number"
    agency = ctx.agencies.get(agency_id) or (
        ctx.agency_by_key.get(legacy_key(agency_name)) if agency_name else None
    )
    return (
        v2_id,
        user_id,
        kind,
        number,
        owner is True,
        active is not False,
        default is True,
        _clean(poc, 32),
        _clean(tariff, 20),
        _clean(name, 160),
        _clean(address, 255),
        _clean(agency_name, 120),
        agency,
        created,
        skip,
    )


async def import_links(ctx: ImportContext) -> None:
    counts = ctx.report.table("user_compteur")
    await ctx.execute(STAGE_LINKS)
    cols = (
        "uc.id, uc.user_id, coalesce(uc.type_compteur, c.type_compteur), c.numero, uc.numero_compteur,"
        ' uc.num_compte_contrat, uc.est_proprietaire, uc.est_active, uc."default", uc.poc, uc.tarif,'
        " uc.nom_client, uc.adresse, uc.nom_agence, uc.id_agence, uc.created_at"
    )
    # est_active (an approval) and "default" change with no timestamp: the fingerprint sees them
    await ctx.survey(
        "user_compteur",
        f"SELECT uc.id, uc.user_id, {await ctx.row_hash(cols)}"  # noqa: S608 - constants
        " FROM user_compteur uc LEFT JOIN compteur c ON c.id = uc.compteur_id",
        parent="user",
    )
    changed = ctx.where_changed("user_compteur", "uc")
    async for rows in ctx.stream(
        "v2 user_compteur",
        "user_compteur",
        f"SELECT count(*) FROM user_compteur uc WHERE {changed}",  # noqa: S608 - constants and an int
        f"SELECT {cols} FROM user_compteur uc LEFT JOIN compteur c ON c.id = uc.compteur_id"  # noqa: S608
        f" WHERE {changed} ORDER BY uc.id",
    ):
        counts.read += len(rows)
        await ctx.copy("st_links", LINK_COLUMNS, [link_row(ctx, r) for r in rows])
    await ctx.execute("ANALYZE st_links")
    await ctx.execute(
        """
        UPDATE st_links l SET user_v3 = m.v3_id
        FROM cutover_v2_ids m WHERE m.entity = 'user' AND m.v2_id = l.v2_user_id AND l.skip IS NULL
        """
    )
    await ctx.execute(
        """
        UPDATE st_links l SET skip = CASE WHEN EXISTS (SELECT 1 FROM st_users s WHERE s.v2_id = l.v2_user_id)
                                          THEN 'user_not_imported' ELSE 'orphan_user' END
        WHERE l.skip IS NULL AND l.user_v3 IS NULL
        """
    )
    await ctx.execute(
        """
        UPDATE st_links l SET skip = 'not_a_customer'
        FROM users u WHERE u.id = l.user_v3 AND l.skip IS NULL AND u.role <> 'customer'
        """
    )
    for reason, n in await ctx.fetch("SELECT skip, count(*) FROM st_links WHERE skip IS NOT NULL GROUP BY 1"):
        counts.skip(reason, n)
    staged = int((await ctx.fetchone("SELECT count(*) FROM st_links WHERE skip IS NULL"))[0])
    async with ctx.bulk_write("meters", staged):
        await _upsert_meters(ctx)
    await ctx.execute(
        """
        UPDATE st_links l SET meter_v3 = m.id
        FROM meters m WHERE l.skip IS NULL AND m.kind = l.kind AND m.number = l.number
        """
    )
    await _merge_links(ctx, staged)


async def _upsert_meters(ctx: ImportContext) -> None:
    created, touched = await ctx.fetchone(
        """
        WITH up AS (
            INSERT INTO meters (id, kind, number, poc, tariff_code, customer_name, address, legacy_agency,
                                agency_id, created_at, updated_at)
            SELECT DISTINCT ON (kind, number) gen_random_uuid(), kind, number, poc, tariff, customer_name,
                   address, legacy_agency, agency_id, now(), now()
            FROM st_links WHERE skip IS NULL
            ORDER BY kind, number, is_owner DESC, v2_id DESC
            ON CONFLICT (kind, number) DO UPDATE SET
                poc = coalesce(meters.poc, excluded.poc),
                tariff_code = coalesce(meters.tariff_code, excluded.tariff_code),
                customer_name = coalesce(meters.customer_name, excluded.customer_name),
                address = coalesce(meters.address, excluded.address),
                legacy_agency = coalesce(meters.legacy_agency, excluded.legacy_agency),
                agency_id = coalesce(meters.agency_id, excluded.agency_id)
            RETURNING (xmax = 0) AS inserted
        )
        SELECT count(*) FILTER (WHERE inserted), count(*) FROM up
        """
    )
    ctx.report.facts["meters_created"] = ctx.report.facts.get("meters_created", 0) + int(created)
    ctx.report.facts["meters_touched"] = ctx.report.facts.get("meters_touched", 0) + int(touched)


async def _merge_links(ctx: ImportContext, total_ok: int) -> None:
    counts = ctx.report.table("user_compteur")
    # One v3 link per (user, meter); the live link v3 may already have (a re-run) keeps its id.
    await ctx.execute(
        """
        CREATE TEMP TABLE st_link_groups ON COMMIT DROP AS
        SELECT g.*, coalesce(l.id, gen_random_uuid()) AS v3_id, l.id IS NULL AS inserted,
               g.is_default_any AND g.keeper = max(g.keeper) FILTER (WHERE g.is_default_any)
                   OVER (PARTITION BY g.user_v3) AS is_default
        FROM (SELECT user_v3, meter_v3, max(v2_id) AS keeper, bool_or(is_owner) AS v2_owner,
                     bool_or(is_active) AS is_active, bool_or(is_default) AS is_default_any,
                     min(created_at) AS created_at
              FROM st_links WHERE skip IS NULL GROUP BY user_v3, meter_v3) g
        LEFT JOIN meter_links l ON l.meter_id = g.meter_v3 AND l.user_id = g.user_v3
                               AND l.status IN ('pending', 'active')
        """
    )
    await ctx.execute("CREATE UNIQUE INDEX ON st_link_groups (meter_v3, user_v3)")
    await ctx.execute("ANALYZE st_link_groups")
    new, updated = await ctx.fetchone(
        "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM st_link_groups"
    )
    async with ctx.bulk_write("meter_links", int(new)):
        await ctx.execute(
            """
            INSERT INTO meter_links (id, meter_id, user_id, status, is_owner, is_default, created_at, updated_at)
            SELECT v3_id, meter_v3, user_v3, CASE WHEN is_active THEN 'active' ELSE 'pending' END, v2_owner,
                   is_default, least(coalesce(created_at, now()), now()), now()
            FROM st_link_groups WHERE inserted
            """
        )
    await ctx.execute(
        """
        UPDATE meter_links l SET
            status = CASE WHEN l.status = 'active' OR g.is_active THEN 'active' ELSE l.status END,
            is_default = g.is_default,
            updated_at = now()
        FROM st_link_groups g WHERE NOT g.inserted AND l.id = g.v3_id
        """
    )
    # one default meter per user: a link v2 now calls the default takes it from the user's others
    await ctx.execute(
        """
        UPDATE meter_links l SET is_default = false, updated_at = now()
        FROM st_link_groups g
        WHERE g.is_default AND l.user_id = g.user_v3 AND l.id <> g.v3_id AND l.is_default
        """
    )
    counts.imported += new
    counts.updated += updated
    counts.merged += int(total_ok) - int(new) - int(updated)
    await ctx.execute(
        """
        INSERT INTO cutover_v2_ids (entity, v2_id, v3_id, outcome)
        SELECT 'user_compteur', l.v2_id, g.v3_id, CASE WHEN l.v2_id = g.keeper THEN 'imported' ELSE 'merged' END
        FROM st_links l JOIN st_link_groups g ON g.meter_v3 = l.meter_v3 AND g.user_v3 = l.user_v3
        WHERE l.skip IS NULL
        ON CONFLICT (entity, v2_id) DO UPDATE
            SET v3_id = excluded.v3_id, outcome = excluded.outcome, last_imported_at = now()
        """
    )
    pending = (await ctx.fetchone("SELECT count(*) FROM st_link_groups WHERE NOT is_active"))[0]
    ctx.report.facts["links_pending_kept"] = ctx.report.facts.get("links_pending_kept", 0) + int(pending)
    await _links_gone(ctx)
    await ctx.remember("user_compteur")


async def _links_gone(ctx: ImportContext) -> None:
    """A v2 link deleted since the last import (the meter removed, the access withdrawn): its v3 link,
    when no other v2 link carries it, is revoked — the customer no longer sees the meter."""
    lost = await ctx.lost("user_compteur")
    ctx.report.table("user_compteur").deleted += await ctx.execute(
        "UPDATE meter_links SET status = 'revoked', is_default = false, decided_at = now(), updated_at = now()"  # noqa: S608
        f" WHERE id IN (SELECT v3_id FROM {lost}) AND status IN ('pending', 'active')"
    )


def _e164(raw: Any) -> str | None:
    return to_e164_or_none(raw)


async def _legacy_phones(gateway: LegacyGateway, kind: str, numbers: list[str]) -> dict[str, str]:
    rows = await (gateway.prepaid_phones(numbers) if kind == "prepaid" else gateway.postpaid_phones(numbers))
    found: dict[str, str] = {}
    for row in rows:
        phone = _e164(row.get("tel"))
        if phone and row.get("number"):
            found.setdefault(str(row["number"]).strip(), phone)
    return found


async def recompute_owners(ctx: ImportContext, gateway: LegacyGateway | None) -> None:
    """Ask the legacy system the phone of every imported meter it was not asked yet, then decide the
    owner of every imported link from it (v2 compared raw strings)."""
    facts = ctx.report.facts
    todo = (
        await ctx.fetchone(
            """
            SELECT count(DISTINCT m.id) FROM st_link_groups g JOIN meters m ON m.id = g.meter_v3
            WHERE m.legacy_phone IS NULL
            """
        )
    )[0]
    asked = answered = 0
    if todo and gateway is None:
        ctx.report.warnings.append("legacy system not consulted: owners kept as v2 recorded them")
    elif todo and gateway is not None:
        await ctx.execute("CREATE TEMP TABLE st_legacy (meter_id uuid, phone text) ON COMMIT DROP")
        try:
            # Paged through a server-side cursor: memory stays flat whatever the number of meters.
            async with ctx.v3.cursor(name="legacy_ask") as cur:
                await cur.execute(
                    """
                    SELECT DISTINCT m.kind, m.number, m.id FROM st_link_groups g JOIN meters m ON m.id = g.meter_v3
                    WHERE m.legacy_phone IS NULL ORDER BY m.kind, m.number
                    """
                )
                while page := await cur.fetchmany(LEGACY_CHUNK * LEGACY_PARALLEL):
                    chunks = [page[i : i + LEGACY_CHUNK] for i in range(0, len(page), LEGACY_CHUNK)]
                    split = [
                        [r for r in chunk if r[0] == kind]
                        for chunk in chunks
                        for kind in ("prepaid", "postpaid")
                    ]
                    groups = [g for g in split if g]
                    results = await asyncio.gather(
                        *(_legacy_phones(gateway, g[0][0], [r[1] for r in g]) for g in groups)
                    )
                    rows: list[tuple[Any, str]] = []
                    for group, found in zip(groups, results, strict=True):
                        asked += len(group)
                        rows.extend((mid, found[number]) for _, number, mid in group if number in found)
                    answered += len(rows)
                    await ctx.copy("st_legacy", ("meter_id", "phone"), rows)
        except Exception as exc:  # the legacy system down: keep v2's flags for what was not asked
            ctx.report.warnings.append(
                f"legacy system unreachable ({type(exc).__name__}) after {asked} meters: "
                "owners of the others kept as v2 recorded them"
            )
        await ctx.execute(
            "UPDATE meters m SET legacy_phone = s.phone, updated_at = now() FROM st_legacy s WHERE m.id = s.meter_id"
        )
    facts["legacy_meters_asked"] = facts.get("legacy_meters_asked", 0) + asked
    facts["legacy_meters_known"] = facts.get("legacy_meters_known", 0) + answered
    became, lost = await ctx.fetchone(
        """
        WITH decided AS (
            UPDATE meter_links l
            SET is_owner = (u.phone IS NOT NULL AND u.phone = m.legacy_phone),
                status = CASE WHEN u.phone = m.legacy_phone AND l.status = 'pending' THEN 'active'
                              ELSE l.status END,
                updated_at = now()
            FROM st_link_groups g, meters m, users u
            WHERE l.id = g.v3_id AND m.id = l.meter_id AND u.id = l.user_id AND m.legacy_phone IS NOT NULL
            RETURNING l.is_owner, g.v2_owner
        )
        SELECT count(*) FILTER (WHERE is_owner AND NOT v2_owner), count(*) FILTER (WHERE v2_owner AND NOT is_owner)
        FROM decided
        """
    )
    facts["owners_recomputed_now_owner"] = facts.get("owners_recomputed_now_owner", 0) + int(became)
    facts["owners_recomputed_not_owner"] = facts.get("owners_recomputed_not_owner", 0) + int(lost)
    kept = (
        await ctx.fetchone(
            """
            SELECT count(*) FROM st_link_groups g JOIN meters m ON m.id = g.meter_v3
            WHERE m.legacy_phone IS NULL
            """
        )
    )[0]
    facts["owners_kept_from_v2"] = facts.get("owners_kept_from_v2", 0) + int(kept)


STAGE_SESSIONS = """
CREATE TEMP TABLE st_sessions (
    v2_id bigint PRIMARY KEY, v2_user_id bigint, model text, token text, token_hash text,
    last_login timestamptz, skip text, user_v3 uuid
) ON COMMIT DROP
"""


async def import_devices(ctx: ImportContext) -> None:
    counts = ctx.report.table("user_session")
    await ctx.execute(STAGE_SESSIONS)
    # a sign-out (is_active false, token cleared) touches no timestamp: the fingerprint sees it
    await ctx.survey(
        "user_session",
        "SELECT s.id, s.user_id,"  # noqa: S608 - constants
        f" {await ctx.row_hash('s.id, s.user_id, s.device_model, s.fcm_token, s.is_active, s.last_login')}"
        " FROM user_session s",
        parent="user",
    )
    changed = ctx.where_changed("user_session", "s")
    pushable = "s.is_active AND s.fcm_token IS NOT NULL AND s.fcm_token <> ''"
    inactive = await ctx.v2.scalar(
        f"SELECT count(*) FROM user_session s WHERE NOT ({pushable}) AND {changed}",  # noqa: S608
        ctx.params("user_session"),
    )
    counts.read += int(inactive or 0)
    counts.skip("inactive_or_without_token", int(inactive or 0))
    async for rows in ctx.stream(
        "v2 user_session",
        "user_session",
        f"SELECT count(*) FROM user_session s WHERE {pushable} AND {changed}",  # noqa: S608
        f"SELECT s.id, s.user_id, s.device_model, s.fcm_token, s.last_login FROM user_session s"  # noqa: S608
        f" WHERE {pushable} AND {changed} ORDER BY s.id",
    ):
        counts.read += len(rows)
        staged = []
        for v2_id, user_id, model, token, last_login in rows:
            token = str(token).strip()
            too_long = len(token) > 4096
            staged.append(
                (
                    v2_id,
                    user_id,
                    _clean(model, 120),
                    None if too_long else token,
                    token_digest(token),
                    last_login,
                    "token_too_long" if too_long else None,
                )
            )
        await ctx.copy(
            "st_sessions",
            ("v2_id", "v2_user_id", "model", "token", "token_hash", "last_login", "skip"),
            staged,
        )
    await ctx.execute(
        """
        UPDATE st_sessions s SET user_v3 = m.v3_id
        FROM cutover_v2_ids m WHERE m.entity = 'user' AND m.v2_id = s.v2_user_id AND s.skip IS NULL
        """
    )
    await ctx.execute("UPDATE st_sessions SET skip = 'orphan_user' WHERE skip IS NULL AND user_v3 IS NULL")
    await ctx.execute(
        """
        UPDATE st_sessions s SET skip = 'not_a_customer'
        FROM users u WHERE u.id = s.user_v3 AND s.skip IS NULL AND u.role <> 'customer'
        """
    )
    # One token = one device: the token's most recent session wins, on whoever's account it is.
    await ctx.execute(
        """
        UPDATE st_sessions s SET skip = 'token_on_a_newer_session'
        FROM (SELECT v2_id, row_number() OVER (PARTITION BY token_hash
                                                ORDER BY last_login DESC NULLS LAST, v2_id DESC) AS rank
              FROM st_sessions WHERE skip IS NULL) r
        WHERE r.v2_id = s.v2_id AND r.rank > 1
        """
    )
    await ctx.execute(
        """
        UPDATE st_sessions s SET skip = 'older_than_two_newest'
        FROM (SELECT v2_id, row_number() OVER (PARTITION BY user_v3
                                                ORDER BY last_login DESC NULLS LAST, v2_id DESC) AS rank
              FROM st_sessions WHERE skip IS NULL) r
        WHERE r.v2_id = s.v2_id AND r.rank > 2
        """
    )
    for reason, n in await ctx.fetch(
        "SELECT skip, count(*) FROM st_sessions WHERE skip IS NOT NULL GROUP BY 1"
    ):
        counts.skip(reason, n)
    to_write = int((await ctx.fetchone("SELECT count(*) FROM st_sessions WHERE skip IS NULL"))[0])
    async with ctx.bulk_write("devices", to_write):
        new, updated = await _upsert_devices(ctx)
    counts.imported += new
    counts.updated += updated
    await _after_devices(ctx)


async def _upsert_devices(ctx: ImportContext) -> tuple[int, int]:
    new, updated = await ctx.fetchone(
        """
        WITH up AS (
            INSERT INTO devices (id, user_id, device_id, fcm_token, fcm_token_hash, model, is_active,
                                 last_seen_at, created_at, updated_at)
            SELECT gen_random_uuid(), user_v3, 'v2-' || left(token_hash, 32), token, token_hash, model, true,
                   now(), now(), now()
            FROM st_sessions WHERE skip IS NULL
            ON CONFLICT (fcm_token_hash) DO UPDATE SET
                user_id = excluded.user_id, model = coalesce(excluded.model, devices.model),
                is_active = true, signed_out_at = NULL, signed_out_reason = NULL, updated_at = now()
            WHERE devices.device_id LIKE 'v2-%%'
            RETURNING (xmax = 0) AS inserted
        )
        SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up
        """
    )
    return int(new), int(updated)


async def _after_devices(ctx: ImportContext) -> None:
    counts = ctx.report.table("user_session")
    registered = await ctx.execute(
        """
        UPDATE st_sessions s SET skip = 'token_registered_on_v3'
        WHERE s.skip IS NULL AND EXISTS (
            SELECT 1 FROM devices d WHERE d.fcm_token_hash = s.token_hash AND d.device_id NOT LIKE 'v2-%%')
        """
    )
    counts.skip("token_registered_on_v3", registered)
    await ctx.execute(
        """
        INSERT INTO cutover_v2_ids (entity, v2_id, v3_id, outcome)
        SELECT 'user_session', s.v2_id, d.id, 'imported'
        FROM st_sessions s JOIN devices d ON d.fcm_token_hash = s.token_hash WHERE s.skip IS NULL
        ON CONFLICT (entity, v2_id) DO UPDATE
            SET v3_id = excluded.v3_id, outcome = excluded.outcome, last_imported_at = now()
        """
    )
    await _sessions_gone(ctx)
    await ctx.remember("user_session")


async def _sessions_gone(ctx: ImportContext) -> None:
    """A v2 session deleted, signed out (no longer active, or its token cleared) or no longer one of
    the user's two newest since the last import: the device it made, when no other v2 session
    carries it, stops receiving pushes (signed out, reason ``v2_signed_out``)."""
    read = "st_fp_user_session" if ctx.changed.get("user_session") is None else "st_changed_user_session"
    await ctx.execute(
        "CREATE TEMP TABLE st_sessions_out ON COMMIT DROP AS"  # noqa: S608 - constant names
        f" SELECT v2_id FROM {read} EXCEPT SELECT v2_id FROM st_sessions WHERE skip IS NULL"
        " UNION SELECT v2_id FROM st_gone_user_session"
    )
    lost = await ctx.lost("user_session", "st_sessions_out")
    ctx.report.table("user_session").deleted += await ctx.execute(
        "UPDATE devices SET is_active = false, signed_out_at = now(), signed_out_reason = 'v2_signed_out',"  # noqa: S608
        f" updated_at = now() WHERE id IN (SELECT v3_id FROM {lost}) AND is_active"
        " AND device_id LIKE 'v2-%%'"
    )
