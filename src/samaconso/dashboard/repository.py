"""All SQL of the dashboard: aggregate queries only (nothing is loaded row by row into Python).

The rollup queries compute every agency and the national figures in two statements (links with
``GROUPING SETS``; everything built on the active (agency, user) pairs in one statement sharing a
materialized CTE); they are pure reads, run by the periodic refresh on the read engine (a streaming
replica when configured) in a READ ONLY transaction, not in the request path. The refresh's lock and
writes (rollups, daily buckets) are on the primary. The live queries (requests) use index-only scans.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, RowMapping, column, delete, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.dashboard.models import NATIONAL, DashboardDaily, DashboardRollup

# A transaction-level advisory lock (PgBouncer-safe): one refresh at a time across the platform.
REFRESH_LOCK_KEY = 0x5A4D_DA5B


async def tune_for_aggregates(session: AsyncSession) -> None:
    # JIT compilation costs more than it saves on these short aggregates; hash joins want memory.
    await session.execute(text("SET LOCAL jit = off"))
    await session.execute(text("SET LOCAL work_mem = '64MB'"))


async def try_refresh_lock(session: AsyncSession) -> bool:
    return bool(
        (
            await session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": REFRESH_LOCK_KEY})
        ).scalar()
    )


async def _rows(session: AsyncSession, sql: str, **params: Any) -> Sequence[RowMapping]:
    return (await session.execute(text(sql), params)).mappings().all()


async def agency_ids(session: AsyncSession) -> list[str]:
    return [str(r["id"]) for r in await _rows(session, "SELECT id FROM agencies")]


async def links_by_scope(session: AsyncSession) -> Sequence[RowMapping]:
    """Link counts per meter agency (``agency`` NULL and ``national`` 0: meters without agency) and
    nationally (``national`` 1)."""
    return await _rows(
        session,
        """
        SELECT m.agency_id::text AS agency, GROUPING(m.agency_id) AS national,
               count(*) AS total,
               count(*) FILTER (WHERE l.status = 'active') AS active,
               count(*) FILTER (WHERE l.status = 'pending') AS pending,
               count(*) FILTER (WHERE l.status = 'refused') AS refused,
               count(*) FILTER (WHERE l.status = 'revoked') AS revoked,
               count(*) FILTER (WHERE l.status = 'active' AND m.kind = 'prepaid') AS active_prepaid,
               count(*) FILTER (WHERE l.status = 'active' AND m.kind = 'postpaid') AS active_postpaid,
               count(*) FILTER (WHERE l.status = 'active' AND l.is_owner) AS active_owner_links,
               count(*) FILTER (WHERE l.status = 'active' AND NOT l.is_owner) AS active_shared_links
        FROM meter_links l JOIN meters m ON m.id = l.meter_id
        GROUP BY GROUPING SETS ((m.agency_id), ())
        """,
    )


# The (agency, user) pairs with an active link, and the user's role there: owner of at least one
# meter, and/or shared access to one. Used by four figures; computed once per refresh as a
# materialized CTE (not a temporary table: the refresh reads a hot standby, in a READ ONLY transaction).
_ACTIVE_PAIRS = """
    active_pairs AS MATERIALIZED (
        SELECT m.agency_id, l.user_id, bool_or(l.is_owner) AS owner, bool_or(NOT l.is_owner) AS shared
        FROM meter_links l JOIN meters m ON m.id = l.meter_id
        WHERE l.status = 'active'
        GROUP BY m.agency_id, l.user_id
    )"""

# Customers, owners, shared users and their active devices, per agency of their active meters.
_USERS_BY_AGENCY = """
    SELECT p.agency_id::text AS agency, count(*) AS customers,
           count(*) FILTER (WHERE p.owner) AS owners, count(*) FILTER (WHERE p.shared) AS shared_users,
           coalesce(sum(d.n), 0) AS active_devices
    FROM active_pairs p
    LEFT JOIN (SELECT user_id, count(*) AS n FROM devices WHERE is_active GROUP BY user_id) d
           ON d.user_id = p.user_id
    WHERE p.agency_id IS NOT NULL
    GROUP BY p.agency_id"""

# Nationally: every customer account, owners and shared users counted once whatever their agencies.
_USERS_NATIONAL = """
    WITH per_user AS (
        SELECT user_id, bool_or(owner) AS owner, bool_or(shared) AS shared
        FROM active_pairs GROUP BY user_id
    )
    SELECT (SELECT count(*) FROM users WHERE role = 'customer' AND deleted_at IS NULL) AS customers,
           u.owners, u.shared_users,
           (SELECT count(*) FROM devices d JOIN users u ON u.id = d.user_id
             WHERE d.is_active AND u.role = 'customer') AS active_devices
    FROM (SELECT count(*) FILTER (WHERE owner) AS owners, count(*) FILTER (WHERE shared) AS shared_users
          FROM per_user) u"""

# Customer sign-ups per UTC day since :signups_since: nationally (``national`` 1) and per agency of
# the customers' active meters (``national`` 0).
_SIGNUPS_BY_DAY = """
    SELECT NULL::text AS agency, 1 AS national, (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n
    FROM users WHERE role = 'customer' AND created_at >= :signups_since
    GROUP BY 3
    UNION ALL
    SELECT p.agency_id::text, 0, (u.created_at AT TIME ZONE 'UTC')::date, count(*)
    FROM active_pairs p JOIN users u ON u.id = p.user_id
    WHERE u.created_at >= :signups_since AND p.agency_id IS NOT NULL
    GROUP BY 1, 3"""

# Per UTC day since :notifications_since, nationally (``agency`` NULL) and per agency: notifications
# addressed to the scope and the pushes that reached a final state / were delivered. Per agency:
# broadcasts to everyone / all agencies / this agency (or an outage zone including it), messages
# about its meters, personal messages to its customers; pushes to its customers' devices.
# ``members``: the (agency, customer) pairs those messages and pushes concern, one of the two below.
_NOTIFICATIONS_DAILY = """
    WITH recent AS (
        SELECT id, (created_at AT TIME ZONE 'UTC')::date AS day, target_kind, target_user_id,
               target_meter_id, target_agency_ids
        FROM notifications WHERE created_at >= :notifications_since
    ),
    pushes AS (
        SELECT r.day, d.status, dv.user_id
        FROM notification_deliveries d
        JOIN recent r ON r.id = d.notification_id
        JOIN devices dv ON dv.id = d.device_id
        WHERE d.status IN ('sent', 'failed', 'dead')
    ),
    members AS ({members}),
    addressed AS (
        SELECT a.id AS agency_id, r.id, r.day
        FROM recent r JOIN agencies a
          ON r.target_kind IN ('everyone', 'all_agencies') OR a.id = ANY (r.target_agency_ids)
        UNION
        SELECT m.agency_id, r.id, r.day
        FROM recent r JOIN meters m ON m.id = r.target_meter_id
        WHERE m.agency_id IS NOT NULL
        UNION
        SELECT p.agency_id, r.id, r.day
        FROM recent r JOIN members p ON p.user_id = r.target_user_id
    ),
    sent AS (
        SELECT NULL::text AS agency, day, count(*) AS sent FROM recent GROUP BY day
        UNION ALL
        SELECT agency_id::text, day, count(*) FROM addressed GROUP BY agency_id, day
    ),
    pushed AS (
        SELECT NULL::text AS agency, day, count(*) AS attempts,
               count(*) FILTER (WHERE status = 'sent') AS delivered
        FROM pushes GROUP BY day
        UNION ALL
        SELECT p.agency_id::text, x.day, count(*), count(*) FILTER (WHERE x.status = 'sent')
        FROM pushes x JOIN members p ON p.user_id = x.user_id
        GROUP BY p.agency_id, x.day
    )
    SELECT coalesce(s.agency, p.agency) AS agency, coalesce(s.day, p.day) AS day,
           coalesce(s.sent, 0) AS sent, coalesce(p.attempts, 0) AS attempts,
           coalesce(p.delivered, 0) AS delivered
    FROM sent s
    FULL JOIN pushed p ON p.agency IS NOT DISTINCT FROM s.agency AND p.day = s.day"""


# A refresh of the last two days (every 5 minutes): a few thousand messages and pushes, so only the
# pairs of their customers (a hashed semi-join). The CTE has no statistics: joined whole, the planner
# would sort its hundreds of thousands of rows twice (merge joins).
_MEMBERS_OF_RECENT = """
        SELECT p.agency_id, p.user_id
        FROM active_pairs p
        WHERE p.agency_id IS NOT NULL
          AND p.user_id IN (SELECT target_user_id FROM recent UNION SELECT user_id FROM pushes)"""
# A refresh of the whole window (first one, or days missing): most customers have a push in 30 days,
# filtering first would cost more than it saves.
_MEMBERS_ALL = """
        SELECT agency_id, user_id FROM active_pairs WHERE agency_id IS NOT NULL"""


@dataclass(frozen=True)
class PairFigures:
    """What the active (agency, user) pairs give, each a list of rows as the query named them."""

    users_by_agency: list[dict[str, Any]]
    users_national: dict[str, Any]
    signups_by_day: list[dict[str, Any]]  # ``day``: a date
    notifications_daily: list[dict[str, Any]]  # ``day``: a date


def _days(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row | {"day": date.fromisoformat(row["day"])} for row in rows]


async def pair_figures(
    session: AsyncSession, *, signups_since: datetime, notifications_since: datetime, whole_window: bool
) -> PairFigures:
    """Users per agency and nationally, sign-ups per day and notifications per day, in ONE statement
    so that the active pairs are computed once: each figure is a sub-select aggregated to JSON (a
    few hundred rows at most), the pairs a materialized CTE they share. A pure read: it runs on a
    hot standby, in a READ ONLY transaction. ``whole_window``: the notifications of the whole
    window are recomputed (not only the last two days), which changes the best plan."""
    notifications = _NOTIFICATIONS_DAILY.format(members=_MEMBERS_ALL if whole_window else _MEMBERS_OF_RECENT)
    sql = f"""
        WITH {_ACTIVE_PAIRS}
        SELECT (SELECT coalesce(json_agg(x), '[]') FROM ({_USERS_BY_AGENCY}) x) AS users_by_agency,
               (SELECT row_to_json(x) FROM ({_USERS_NATIONAL}) x) AS users_national,
               (SELECT coalesce(json_agg(x), '[]') FROM ({_SIGNUPS_BY_DAY}) x) AS signups_by_day,
               (SELECT coalesce(json_agg(x), '[]') FROM ({notifications}) x) AS notifications_daily
    """  # noqa: S608 - fixed SQL fragments of this module, the values are bound parameters
    row = (
        (
            await session.execute(
                text(sql).columns(
                    column("users_by_agency", JSON),
                    column("users_national", JSON),
                    column("signups_by_day", JSON),
                    column("notifications_daily", JSON),
                ),
                {"signups_since": signups_since, "notifications_since": notifications_since},
            )
        )
        .mappings()
        .one()
    )
    return PairFigures(
        users_by_agency=list(row["users_by_agency"]),
        users_national=dict(row["users_national"]),
        signups_by_day=_days(row["signups_by_day"]),
        notifications_daily=_days(row["notifications_daily"]),
    )


async def known_notification_days(session: AsyncSession, first: date, last: date) -> int:
    """How many national daily buckets exist between two days (to spot days never computed)."""
    found: int = (
        await session.execute(
            select(func.count())
            .select_from(DashboardDaily)
            .where(DashboardDaily.scope == NATIONAL, DashboardDaily.day >= first, DashboardDaily.day <= last)
        )
    ).scalar_one()
    return found


async def save_daily(session: AsyncSession, first: date, rows: list[dict[str, Any]]) -> None:
    """Replace the buckets from ``first`` on, and forget the ones older than the longest window."""
    await session.execute(delete(DashboardDaily).where(DashboardDaily.day >= first))
    await session.execute(delete(DashboardDaily).where(DashboardDaily.day < first - timedelta(days=40)))
    if rows:
        await session.execute(insert(DashboardDaily).values(rows))


async def notification_windows(session: AsyncSession, since: date) -> Sequence[RowMapping]:
    return (
        (
            await session.execute(
                select(
                    DashboardDaily.scope,
                    DashboardDaily.day,
                    DashboardDaily.notifications,
                    DashboardDaily.push_attempts,
                    DashboardDaily.push_delivered,
                ).where(DashboardDaily.day >= since)
            )
        )
        .mappings()
        .all()
    )


async def db_now(session: AsyncSession) -> datetime:
    now: datetime = (await session.execute(text("SELECT now()"))).scalar_one()
    return now


async def save_rollups(session: AsyncSession, figures: dict[str, dict[str, Any]]) -> None:
    stmt = insert(DashboardRollup).values([{"scope": k, "figures": v} for k, v in figures.items()])
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["scope"], set_={"figures": stmt.excluded.figures, "computed_at": text("now()")}
        )
    )


async def load_rollup(session: AsyncSession, scope: str) -> DashboardRollup | None:
    return (await session.scalars(select(DashboardRollup).where(DashboardRollup.scope == scope))).first()


async def requests_by_status(session: AsyncSession, agency_id: uuid.UUID | None) -> Sequence[RowMapping]:
    """Live: requests per status and how many open ones are past their SLA (index-only scan)."""
    where = "WHERE agency_id = :agency" if agency_id is not None else ""
    return await _rows(
        session,
        f"""
        SELECT status, count(*) AS n,
               count(*) FILTER (WHERE status IN ('submitted', 'in_progress') AND due_at < now()) AS overdue
        FROM customer_requests {where}
        GROUP BY status
        """,  # noqa: S608 - fixed clause, the value is a bound parameter
        **({"agency": agency_id} if agency_id is not None else {}),
    )


async def request_ratings(session: AsyncSession, agency_id: uuid.UUID | None) -> Sequence[RowMapping]:
    """Live: how many resolved requests were rated with each score (partial index on the ratings)."""
    where = "AND agency_id = :agency" if agency_id is not None else ""
    return await _rows(
        session,
        f"""
        SELECT rating_score AS score, count(*) AS n
        FROM customer_requests WHERE rating_score IS NOT NULL {where}
        GROUP BY rating_score
        """,  # noqa: S608 - fixed clause, the value is a bound parameter
        **({"agency": agency_id} if agency_id is not None else {}),
    )


async def agency_exists(session: AsyncSession, agency_id: uuid.UUID) -> bool:
    return (
        await session.execute(text("SELECT 1 FROM agencies WHERE id = :a"), {"a": agency_id})
    ).first() is not None
