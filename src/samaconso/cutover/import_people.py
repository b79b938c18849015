"""People: v2 agencies (matched by legacy name, created when missing) and users.

Rules (V2.md §1–2, issue 14 point 2):

* role 2 → administrator, 3 → agent, anything else (1, NULL, unknown) → customer;
* customers are keyed by their phone in E.164 (``normalize_phone``); a phone that is not a
  Senegalese mobile is skipped (``invalid_phone``), a NULL/empty one too (``missing_phone``);
* staff are keyed by their login (lower case); ``ldap`` → directory sign-in (no local password);
* **merge rule**: v2 accounts that share one key become one v3 account. The one that wins (its PIN,
  names, state) is, in order: the active one, then the one with a secret (PIN or password), then the
  most recently updated (``updated_at``, else ``created_at``), then the newest (highest v2 id). The
  others are recorded as ``merged`` into it; their meters, sessions and requests follow;
* ``is_activate`` false → inactive in v3 (NULL counts as active: v2 let those sign in);
* bcrypt hashes are carried unchanged; a v3 secret is never overwritten by a re-run (only a NULL or
  a still-bcrypt one is refreshed from v2);
* an account that already exists in v3 with the same phone/login and no v2 mapping (signed up on
  v3) is kept as it is: the v2 rows are mapped onto it (``merged``).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from samaconso.cutover.import_context import ImportContext
from samaconso.cutover.phone_shortcut import to_e164
from samaconso.identity.agency_names import legacy_key
from samaconso.identity.phones import InvalidPhone
from samaconso.kit.security import is_legacy_hash

LOGIN_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")

STAGE_USERS = """
CREATE TEMP TABLE st_users (
    v2_id bigint PRIMARY KEY, gkey text, role text, phone text, login text, pin_hash text,
    password_hash text, auth_source text, first_name text, last_name text, email text,
    agency_id uuid, is_active boolean, created_at timestamptz, changed_at timestamptz, skip text
) ON COMMIT DROP
"""

USER_COLUMNS = (
    "v2_id",
    "gkey",
    "role",
    "phone",
    "login",
    "pin_hash",
    "password_hash",
    "auth_source",
    "first_name",
    "last_name",
    "email",
    "agency_id",
    "is_active",
    "created_at",
    "changed_at",
    "skip",
)


async def import_agencies(ctx: ImportContext) -> None:
    counts = ctx.report.table("agence")
    existing = await ctx.fetch("SELECT legacy_name, id FROM agencies")
    by_key: dict[str, Any] = {str(row[0]): row[1] for row in existing}
    for v2_id, nom, nom_corrige in await ctx.v2.rows("SELECT id, nom, nom_corrige FROM agence ORDER BY id"):
        counts.read += 1
        key = legacy_key(nom or nom_corrige or "")
        if not key:
            counts.skip("missing_name")
            continue
        if key in ctx.agency_by_key:  # the same name twice in v2 (no unique constraint)
            counts.merged += 1
            outcome = "merged"
        elif key in by_key:  # an agency v3 already has (reference list, or an earlier run)
            counts.updated += 1
            outcome = "imported"
        else:
            aid = uuid.uuid4()
            display = (nom_corrige or nom or key).strip()[:120]
            taken = await ctx.fetch("SELECT 1 FROM agencies WHERE name = %(n)s", {"n": display})
            await ctx.execute(
                "INSERT INTO agencies (id, code, name, region, legacy_name, is_active, created_at, updated_at)"
                " VALUES (%(id)s, %(code)s, %(name)s, NULL, %(key)s, true, now(), now())",
                {
                    "id": aid,
                    "code": f"V2-{v2_id}"[:32],
                    "name": f"{display} ({v2_id})"[:120] if taken else display,
                    "key": key[:120],
                },
            )
            by_key[key] = aid
            counts.imported += 1
            outcome = "imported"
        ctx.agency_by_key[key] = by_key[key]
        ctx.agencies[v2_id] = by_key[key]
        await ctx.execute(
            "INSERT INTO cutover_v2_ids (entity, v2_id, v3_id, outcome) VALUES ('agence', %(v2)s, %(v3)s, %(o)s)"
            " ON CONFLICT (entity, v2_id) DO UPDATE SET v3_id = excluded.v3_id, last_imported_at = now()",
            {"v2": v2_id, "v3": by_key[key], "o": outcome},
        )
    for key, aid in by_key.items():
        ctx.agency_by_key.setdefault(key, aid)


def _role(v2_role: Any) -> str:
    return {2: "admin", 3: "agent"}.get(v2_role if isinstance(v2_role, int) else -1, "customer")


def _text(value: Any, limit: int) -> str:
    return (str(value).strip() if value is not None else "")[:limit]


def user_row(ctx: ImportContext, row: tuple[Any, ...]) -> tuple[Any, ...]:
    (
        v2_id,
        first,
        last,
        raw_phone,
        pin,
        email,
        login,
        password,
        active,
        ldap,
        role_id,
        agence,
        created,
        updated,
    ) = row
    role = _role(role_id)
    phone = login_norm = pin_hash = password_hash = None
    skip = None
    auth_source = "local"
    if role == "customer":
        if raw_phone is None or not str(raw_phone).strip():
            skip = "missing_phone"
        else:
            try:
                phone = to_e164(str(raw_phone))
            except InvalidPhone:
                skip = "invalid_phone"
        pin_hash = pin if is_legacy_hash(pin) else None
        gkey = f"p:{phone}"
    else:
        login_norm = (login or "").strip().lower() or None
        if login_norm is None:
            skip = "staff_without_login"
        elif not LOGIN_RE.match(login_norm):
            skip = "invalid_login"
        if ldap:
            auth_source = "ldap"
        else:
            password_hash = password if is_legacy_hash(password) else None
        gkey = f"l:{login_norm}"
    mail = _text(email, 254) or None
    if mail is not None and "@" not in mail:
        mail = None
    return (
        v2_id,
        gkey,
        role,
        phone,
        login_norm,
        pin_hash,
        password_hash,
        auth_source,
        _text(first, 80),
        _text(last, 80),
        mail,
        ctx.agencies.get(agence) if role != "customer" else None,
        active is not False,
        created,
        updated or created,
        skip,
    )


async def import_users(ctx: ImportContext) -> None:
    counts = ctx.report.table("user")
    await ctx.execute(STAGE_USERS)
    select_cols = (
        'u.id, u."firstName", u."lastName", u."phoneNumber", u."codePin", u.email, u.login, u.password,'
        " u.is_activate, u.ldap, u.role, u.id_agence, u.created_at, u.updated_at"
    )
    await ctx.survey(
        "user",
        f'SELECT u.id, NULL::bigint, {await ctx.row_hash(select_cols)} FROM "user" u',  # noqa: S608
    )
    changed = ctx.where_changed("user", "u")
    async for rows in ctx.stream(
        "v2 user",
        "user",
        f'SELECT count(*) FROM "user" u WHERE {changed}',  # noqa: S608 - constants and an int
        f'SELECT {select_cols} FROM "user" u WHERE {changed} ORDER BY u.id',  # noqa: S608
    ):
        counts.read += len(rows)
        await ctx.copy("st_users", USER_COLUMNS, [user_row(ctx, r) for r in rows])
    for reason, n in await ctx.fetch("SELECT skip, count(*) FROM st_users WHERE skip IS NOT NULL GROUP BY 1"):
        counts.skip(reason, n)
    await ctx.execute("ANALYZE st_users")
    # One group per phone / login; the keeper is chosen by the merge rule (module docstring).
    await ctx.execute(
        """
        CREATE TEMP TABLE st_user_groups ON COMMIT DROP AS
        SELECT DISTINCT ON (gkey) gkey, v2_id AS keeper, role, NULL::uuid AS v3_id,
               false AS existed, false AS native
        FROM st_users WHERE skip IS NULL
        ORDER BY gkey, is_active DESC,
                 (pin_hash IS NOT NULL OR password_hash IS NOT NULL OR auth_source = 'ldap') DESC,
                 changed_at DESC NULLS LAST, v2_id DESC
        """
    )
    await ctx.execute("CREATE UNIQUE INDEX ON st_user_groups (gkey)")
    await ctx.execute("ANALYZE st_user_groups")
    # The v3 account of each group: a mapping made by an earlier run (``deleted``: the v2 row came
    # back, so does the account), else an account with the key.
    await ctx.execute(
        """
        UPDATE st_user_groups g SET v3_id = m.v3_id, existed = true, native = m.outcome = 'merged'
        FROM (SELECT DISTINCT ON (s.gkey) s.gkey, c.v3_id, c.outcome
              FROM st_users s JOIN cutover_v2_ids c ON c.entity = 'user' AND c.v2_id = s.v2_id
              JOIN users u ON u.id = c.v3_id
              WHERE s.skip IS NULL ORDER BY s.gkey, c.outcome <> 'merged' DESC, s.v2_id) m
        WHERE m.gkey = g.gkey
        """
    )
    await ctx.execute(
        """
        UPDATE st_user_groups g SET v3_id = u.id, existed = true, native = true
        FROM users u
        WHERE g.v3_id IS NULL AND g.gkey LIKE 'p:%%' AND u.phone = substr(g.gkey, 3)
        """
    )
    await ctx.execute(
        """
        UPDATE st_user_groups g SET v3_id = u.id, existed = true, native = true
        FROM users u
        WHERE g.v3_id IS NULL AND g.gkey LIKE 'l:%%' AND u.login = substr(g.gkey, 3)
        """
    )
    # A key held in v3 by another account than the mapped one (a phone moved): not touched.
    taken = await ctx.execute(
        """
        UPDATE st_users s SET skip = 'key_taken_in_v3'
        FROM st_user_groups g, users u
        WHERE s.gkey = g.gkey AND s.skip IS NULL AND g.existed AND NOT g.native AND u.id <> g.v3_id
          AND ((g.gkey LIKE 'p:%%' AND u.phone = substr(g.gkey, 3))
               OR (g.gkey LIKE 'l:%%' AND u.login = substr(g.gkey, 3)))
        """
    )
    if taken:
        counts.skip("key_taken_in_v3", taken)
        await ctx.execute(
            "DELETE FROM st_user_groups g USING st_users s WHERE s.gkey = g.gkey AND s.skip = 'key_taken_in_v3'"
        )
    await ctx.execute("UPDATE st_user_groups SET v3_id = gen_random_uuid() WHERE v3_id IS NULL")
    writes = (await ctx.fetchone("SELECT count(*) FROM st_user_groups WHERE NOT native"))[0]
    async with ctx.bulk_write("users", int(writes)):
        await _upsert_users(ctx)
    await _count_users(ctx)
    await _users_gone(ctx)
    await ctx.remember("user")


async def _upsert_users(ctx: ImportContext) -> None:
    await ctx.execute(
        """
        INSERT INTO users (id, role, phone, login, pin_hash, password_hash, auth_source, first_name,
                           last_name, email, language, agency_id, is_active, failed_attempts,
                           created_at, updated_at)
        SELECT g.v3_id, s.role, s.phone, s.login, s.pin_hash, s.password_hash, s.auth_source,
               s.first_name, s.last_name, s.email, 'fr', s.agency_id, s.is_active, 0,
               least(coalesce(s.created_at, now()), now()), now()
        FROM st_user_groups g JOIN st_users s ON s.v2_id = g.keeper
        WHERE NOT g.native
        ON CONFLICT (id) DO UPDATE SET
            role = excluded.role,
            first_name = CASE WHEN excluded.first_name <> '' THEN excluded.first_name
                              ELSE users.first_name END,
            last_name = CASE WHEN excluded.last_name <> '' THEN excluded.last_name ELSE users.last_name END,
            email = coalesce(excluded.email, users.email),
            agency_id = coalesce(excluded.agency_id, users.agency_id),
            auth_source = excluded.auth_source,
            is_active = excluded.is_active,
            pin_hash = CASE WHEN users.pin_hash IS NULL OR users.pin_hash LIKE '$2%%'
                            THEN coalesce(excluded.pin_hash, users.pin_hash) ELSE users.pin_hash END,
            password_hash = CASE WHEN users.password_hash IS NULL OR users.password_hash LIKE '$2%%'
                                 THEN coalesce(excluded.password_hash, users.password_hash)
                                 ELSE users.password_hash END,
            updated_at = now()
        """
    )


async def _users_gone(ctx: ImportContext) -> None:
    """A v2 account deleted since the last import: its v3 account (when no other v2 row of the same
    phone/login remains and it was not signed up on v3) is deactivated — not deleted: its history
    stays, and nobody signs in with it — and its phones stop receiving pushes."""
    lost = await ctx.lost("user", only_imported=True)
    ctx.report.table("user").deleted += await ctx.execute(
        f"UPDATE users SET is_active = false, updated_at = now() WHERE id IN (SELECT v3_id FROM {lost})"  # noqa: S608
        " AND is_active"
    )
    await ctx.execute(
        "UPDATE devices SET is_active = false, signed_out_at = now(), signed_out_reason = 'v2_account_deleted',"  # noqa: S608
        f" updated_at = now() WHERE user_id IN (SELECT v3_id FROM {lost}) AND is_active"
    )


async def _count_users(ctx: ImportContext) -> None:
    counts = ctx.report.table("user")
    new, updated, merged = await ctx.fetchone(
        """
        SELECT count(*) FILTER (WHERE s.v2_id = g.keeper AND NOT g.existed),
               count(*) FILTER (WHERE s.v2_id = g.keeper AND g.existed AND NOT g.native),
               count(*) FILTER (WHERE s.v2_id <> g.keeper OR g.native)
        FROM st_users s JOIN st_user_groups g ON g.gkey = s.gkey WHERE s.skip IS NULL
        """
    )
    counts.imported += new
    counts.updated += updated
    counts.merged += merged
    await ctx.execute(
        """
        INSERT INTO cutover_v2_ids (entity, v2_id, v3_id, outcome)
        SELECT 'user', s.v2_id, g.v3_id,
               CASE WHEN s.v2_id = g.keeper AND NOT g.native THEN 'imported' ELSE 'merged' END
        FROM st_users s JOIN st_user_groups g ON g.gkey = s.gkey WHERE s.skip IS NULL
        ON CONFLICT (entity, v2_id) DO UPDATE
            SET v3_id = excluded.v3_id, outcome = excluded.outcome, last_imported_at = now()
        """
    )
