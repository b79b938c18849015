"""``samaconso staff create``: staff accounts from the operator's shell (the first administrator).

    samaconso staff create --login admin.dsi --first-name Awa --last-name Ndiaye
    samaconso staff create --login agent.thies --role agent --agency THS --first-name … --last-name …
    samaconso staff create --login m.sarr --ldap …            (password checked by Active Directory)

The password is asked twice on a terminal, or read from the first line of standard input (so it
never appears in the process list or the shell history). The same rules as the API apply.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import Any

from pydantic import ValidationError

from samaconso.identity import repository as repo
from samaconso.identity.models import AuthSource
from samaconso.identity.schemas import StaffCreate
from samaconso.identity.service import Ctx, create_staff
from samaconso.kit.db import Database
from samaconso.kit.errors import AppError
from samaconso.kit.transaction import unit_of_work
from samaconso.settings import get_settings


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Mot de passe / password: ")
        if getpass.getpass("Confirmation: ") != first:
            raise SystemExit("les mots de passe diffèrent / passwords differ")
        return first
    return sys.stdin.readline().rstrip("\n")


async def _create(args: argparse.Namespace, password: str | None) -> str:
    settings = get_settings()
    db = Database(settings)
    try:
        async with unit_of_work(db.sessionmaker) as session:
            agency_id = None
            if args.agency:
                agency_id = await repo.agency_id_by_code(session, args.agency.upper())
                if agency_id is None:
                    raise SystemExit(f"agence inconnue / unknown agency: {args.agency}")
            body = StaffCreate(
                login=args.login,
                role=args.role,
                agency_id=agency_id,
                first_name=args.first_name,
                last_name=args.last_name,
                email=args.email,
                auth_source=AuthSource.ldap if args.ldap else AuthSource.local,
                password=password,
            )
            user = await create_staff(Ctx(session=session, settings=settings), None, body)
            return f"compte créé / account created: {user.login} ({user.role}) id={user.id}"
    finally:
        await db.dispose()


def cmd_staff_create(args: argparse.Namespace) -> None:
    password = None if args.ldap else _read_password()
    try:
        print(asyncio.run(_create(args, password)))
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in err["loc"]) for err in exc.errors())
        raise SystemExit(f"données invalides / invalid values: {fields}") from None
    except AppError as exc:
        raise SystemExit(f"{exc.detail_fr} / {exc.detail_en}") from None


def register(sub: Any) -> None:
    staff = sub.add_parser("staff", help="staff accounts (first administrator)")
    staff_sub = staff.add_subparsers(dest="staff_command", required=True)
    create = staff_sub.add_parser("create", help="create an agent or an administrator")
    create.add_argument("--login", required=True)
    create.add_argument("--role", choices=["admin", "agent"], default="admin")
    create.add_argument("--agency", help="agency code (required for an agent), e.g. DKC")
    create.add_argument("--first-name", required=True)
    create.add_argument("--last-name", required=True)
    create.add_argument("--email")
    create.add_argument("--ldap", action="store_true", help="password checked by Active Directory")
    create.set_defaults(func=cmd_staff_create)
