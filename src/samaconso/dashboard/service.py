"""The agency / national dashboard.

Two kinds of figures:

* **rolled up** (links, customers, owners/shared users, devices, notifications, sign-ups): they need
  passes over million-row tables (about 10 s of aggregate SQL nationally), so a periodic task
  (``samaconso.dashboard.tasks.housekeeping_refresh``, every 5 minutes) computes every scope at once
  into ``dashboard_rollups``; the answer shows when (``figures_computed_at``). When no rollup exists
  yet (fresh install), the first dashboard call computes it. Those passes are pure reads on the read
  engine (``SAMACONSO_DATABASE_READ_URL``: the streaming replica), in a READ ONLY transaction; the
  lock and the writes stay on the primary.
* **live** (requests by status, overdue): index-only aggregate, always current.

The whole answer is cached 60 s in Redis per scope.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.dashboard import repository as repo
from samaconso.dashboard.models import NATIONAL
from samaconso.dashboard.schemas import DashboardOut
from samaconso.identity.principal import Principal
from samaconso.kit.cache import Cache
from samaconso.kit.db import Database
from samaconso.kit.errors import AppError
from samaconso.kit.read_only_repository import read_only_session

log = structlog.get_logger(__name__)

CACHE_TTL_S = 60
SIGNUP_DAYS = 30
NOTIFICATION_WINDOW_DAYS = 30
STALE_AFTER = timedelta(minutes=15)
LINK_KEYS = (
    "total",
    "active",
    "pending",
    "refused",
    "revoked",
    "active_prepaid",
    "active_postpaid",
    "active_owner_links",
    "active_shared_links",
)
REQUEST_STATUSES = ("submitted", "in_progress", "resolved", "rejected", "cancelled")


def _window(sent: int, attempts: int, delivered: int) -> dict[str, Any]:
    return {
        "notifications": sent,
        "push_attempts": attempts,
        "push_delivered": delivered,
        "delivery_rate": round(delivered / attempts, 4) if attempts else None,
    }


def _notification_first_day(known: int, today: date) -> date:
    """The first daily notification bucket to recompute: the ones that can still change (today,
    yesterday), or the whole window when some older day of it was never computed."""
    window_first = today - timedelta(days=NOTIFICATION_WINDOW_DAYS - 1)
    return window_first if known < NOTIFICATION_WINDOW_DAYS - 2 else today - timedelta(days=1)


async def _save_notification_days(
    session: AsyncSession,
    figures: dict[str, dict[str, Any]],
    rows: list[dict[str, Any]],
    *,
    first: date,
    today: date,
) -> None:
    """Store the recomputed daily buckets (zeros included) from ``first`` to ``today``, then sum the
    7- and 30-day windows of every scope from the stored buckets (primary: it reads its own writes)."""
    window_first = today - timedelta(days=NOTIFICATION_WINDOW_DAYS - 1)
    days = [first + timedelta(days=i) for i in range((today - first).days + 1)]
    buckets: dict[tuple[str, date], list[int]] = {
        (scope, day): [0, 0, 0] for scope in figures for day in days
    }
    for row in rows:
        key = (NATIONAL if row["agency"] is None else str(row["agency"]), row["day"])
        if key in buckets:
            buckets[key] = [int(row["sent"]), int(row["attempts"]), int(row["delivered"])]
    await repo.save_daily(
        session,
        first,
        [
            {"scope": scope, "day": day, "notifications": v[0], "push_attempts": v[1], "push_delivered": v[2]}
            for (scope, day), v in buckets.items()
        ],
    )
    week_first = today - timedelta(days=6)
    sums = {scope: {"7": [0, 0, 0], "30": [0, 0, 0]} for scope in figures}
    for stored in await repo.notification_windows(session, window_first):
        if stored["scope"] not in sums:
            continue
        values = (int(stored["notifications"]), int(stored["push_attempts"]), int(stored["push_delivered"]))
        windows = ("7", "30") if stored["day"] >= week_first else ("30",)
        for w in windows:
            sums[stored["scope"]][w] = [a + b for a, b in zip(sums[stored["scope"]][w], values, strict=True)]
    for scope, s in sums.items():
        figures[scope]["notifications"] = {
            "last_7_days": _window(*s["7"]),
            "last_30_days": _window(*s["30"]),
        }


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


async def _read_figures(
    read: AsyncSession, *, signups_first: date, notifications_first: date, whole_window: bool
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Every scope's links, users and sign-ups, and the daily notification rows: the heavy aggregate
    reads, all pure reads (the read engine's READ ONLY session)."""
    await repo.tune_for_aggregates(read)
    scopes = [NATIONAL, *await repo.agency_ids(read)]
    figures: dict[str, dict[str, Any]] = {
        s: {
            "links": dict.fromkeys(LINK_KEYS, 0),
            "users": {"customers": 0, "owners": 0, "shared_users": 0, "active_devices": 0},
            "signups": {},
            "notifications": None,
        }
        for s in scopes
    }
    for links in await repo.links_by_scope(read):
        scope = NATIONAL if links["national"] else links["agency"]
        if scope in figures:  # meters without an agency only count nationally
            figures[scope]["links"] = {k: int(links[k]) for k in LINK_KEYS}

    pairs = await repo.pair_figures(
        read,
        signups_since=_midnight(signups_first),
        notifications_since=_midnight(notifications_first),
        whole_window=whole_window,
    )
    user_keys = ("customers", "owners", "shared_users", "active_devices")
    for row in pairs.users_by_agency:
        if row["agency"] in figures:
            figures[row["agency"]]["users"] = {k: int(row[k]) for k in user_keys}
    figures[NATIONAL]["users"] = {k: int(pairs.users_national[k]) for k in user_keys}
    for row in pairs.signups_by_day:
        scope = NATIONAL if row["national"] else row["agency"]
        if scope in figures:
            figures[scope]["signups"][row["day"].isoformat()] = int(row["n"])
    return figures, pairs.notifications_daily


async def refresh_rollups(db: Database, read_db: Database) -> bool:
    """Recompute every scope's rolled-up figures. False if another refresh runs.

    On the primary (``db``), one transaction: the single-refresh lock, the "as of" time (its clock),
    which notification days are already stored, then the writes (daily buckets, rollups), committed
    at the end. The heavy aggregate reads run on ``read_db`` (the streaming replica when
    ``SAMACONSO_DATABASE_READ_URL`` is set, else the primary) in one READ ONLY snapshot: nothing is
    written there. A replica's figures lag the primary by its replay delay (seconds)."""
    started = datetime.now(UTC)
    async with db.sessionmaker.begin() as session:  # one transaction: committed at the end
        await repo.tune_for_aggregates(session)
        if not await repo.try_refresh_lock(session):
            return False
        today = (await repo.db_now(session)).astimezone(UTC).date()
        signups_first = today - timedelta(days=SIGNUP_DAYS - 1)
        window_first = today - timedelta(days=NOTIFICATION_WINDOW_DAYS - 1)
        known = await repo.known_notification_days(session, window_first, today - timedelta(days=2))
        notifications_first = _notification_first_day(known, today)

        async with read_only_session(read_db, one_snapshot=True) as read:
            figures, notification_rows = await _read_figures(
                read,
                signups_first=signups_first,
                notifications_first=notifications_first,
                whole_window=notifications_first == window_first,
            )

        await _save_notification_days(
            session, figures, notification_rows, first=notifications_first, today=today
        )
        days = [signups_first + timedelta(days=i) for i in range(SIGNUP_DAYS)]
        for f in figures.values():
            counts = f.pop("signups")
            f["signups_per_day"] = [
                {"day": d.isoformat(), "count": counts.get(d.isoformat(), 0)} for d in days
            ]
        await repo.save_rollups(session, figures)
    log.info(
        "dashboard_rollups_refreshed",
        scopes=len(figures),
        duration_ms=round((datetime.now(UTC) - started).total_seconds() * 1000, 1),
    )
    return True


def _scope_for(principal: Principal, agency: uuid.UUID | None) -> uuid.UUID | None:
    """Agents: their own agency, whatever they ask. Admins: national, or the agency asked for."""
    if principal.is_admin:
        return agency
    if principal.agency_id is None:
        raise AppError(
            403,
            "no_agency",
            "Aucune agence n'est rattachée à votre compte.",
            "No agency is attached to your account.",
        )
    if agency is not None and agency != principal.agency_id:
        raise AppError(404, "agency_not_found", "Agence introuvable.", "Agency not found.")
    return principal.agency_id


def _ratings(by_score: dict[str, int]) -> dict[str, Any]:
    count = sum(by_score.values())
    total = sum(int(k) * n for k, n in by_score.items())
    return {
        "count": count,
        "average": round(total / count, 2) if count else None,
        "by_score": by_score,
        "satisfied_share": round((by_score["4"] + by_score["5"]) / count, 3) if count else None,
    }


async def compute(db: Database, read_db: Database, agency_id: uuid.UUID | None) -> dict[str, Any]:
    """The dashboard of one scope, without the Redis cache (what the benchmark measures)."""
    scope = str(agency_id) if agency_id else NATIONAL
    async with db.sessionmaker() as session:
        await repo.tune_for_aggregates(session)
        rollup = await repo.load_rollup(session, scope)
        if rollup is None:
            if agency_id is not None and not await repo.agency_exists(session, agency_id):
                raise AppError(404, "agency_not_found", "Agence introuvable.", "Agency not found.")
            await session.rollback()
            await refresh_rollups(db, read_db)
            await repo.tune_for_aggregates(session)
            rollup = await repo.load_rollup(session, scope)
            if rollup is None:  # another process is computing the very first rollup
                raise AppError(
                    503,
                    "dashboard_warming_up",
                    "Le tableau de bord est en cours de calcul, réessayez dans un instant.",
                    "The dashboard is being computed, please retry in a moment.",
                    headers={"Retry-After": "15"},
                )
        by_status = dict.fromkeys(REQUEST_STATUSES, 0)
        overdue = 0
        for row in await repo.requests_by_status(session, agency_id):
            by_status[str(row["status"])] = int(row["n"])
            overdue += int(row["overdue"])
        ratings = {str(k): 0 for k in range(1, 6)}
        for row in await repo.request_ratings(session, agency_id):
            ratings[str(row["score"])] = int(row["n"])
        now = await repo.db_now(session)  # read only: the session's end rolls the reads back
    if now - rollup.computed_at > STALE_AFTER:
        log.warning("dashboard_rollup_stale", scope=scope, computed_at=rollup.computed_at.isoformat())
    f = rollup.figures
    out = DashboardOut(
        scope={"national": agency_id is None, "agency_id": agency_id},
        generated_at=now,
        figures_computed_at=rollup.computed_at,
        links=f["links"],
        users=f["users"],
        requests={
            "total": sum(by_status.values()),
            "by_status": by_status,
            "open": by_status["submitted"] + by_status["in_progress"],
            "overdue": overdue,
            "ratings": _ratings(ratings),
        },
        notifications=f.get("notifications"),
        signups_per_day=f["signups_per_day"],
    )
    return out.model_dump(mode="json")


async def dashboard(
    db: Database, read_db: Database, cache: Cache, principal: Principal, agency: uuid.UUID | None
) -> dict[str, Any]:
    agency_id = _scope_for(principal, agency)
    key = f"dashboard:{agency_id or NATIONAL}"
    return await cache.get_or_load(key, CACHE_TTL_S, lambda: compute(db, read_db, agency_id))
