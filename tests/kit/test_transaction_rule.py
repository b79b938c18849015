"""The one transaction rule (``kit/transaction.py``), seen from HTTP: a request's writes are kept
when the handler returns and gone when it raises; after-commit work runs only once committed;
``record_now`` keeps what must survive a refusal."""

from __future__ import annotations

from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import func, select

from samaconso.identity.models import Agency
from samaconso.kit.db import Database
from samaconso.kit.deps import SessionDep
from samaconso.kit.errors import AppError
from samaconso.kit.problems import install_error_handlers
from samaconso.kit.transaction import after_commit, record_now


def _app(db: Database, ran: list[str]) -> FastAPI:
    app = FastAPI()
    app.state.db = db
    install_error_handlers(app)

    def add(session: SessionDep, code: str) -> None:
        session.add(Agency(code=code, name=f"Agence {code}", legacy_name=f"AGENCE {code}"))

        async def done() -> None:
            ran.append(code)

        after_commit(session, done)

    @app.post("/ok/{code}")
    async def ok(code: str, session: SessionDep) -> dict[str, str]:
        add(session, code)
        return {"code": code}

    @app.post("/refused/{code}")
    async def refused(code: str, session: SessionDep) -> None:
        add(session, code)
        raise AppError(409, "refused", "Refusé.", "Refused.")

    @app.post("/recorded/{code}")
    async def recorded(code: str, session: SessionDep) -> None:
        add(session, code)
        await record_now(session)
        add(session, f"{code}2")  # written after the early commit: rolled back with the refusal
        raise AppError(423, "locked", "Bloqué.", "Locked.")

    return app


async def _codes(db: Database) -> list[str]:
    async with db.sessionmaker() as s:
        return list((await s.scalars(select(Agency.code).order_by(Agency.code))).all())


async def test_commit_on_success_rollback_on_error_after_commit_only_when_kept(db: Database) -> None:
    ran: list[str] = []
    before = await _codes(db)
    transport = ASGITransport(app=_app(db, ran))
    async with AsyncClient(transport=transport, base_url="http://t") as http:
        assert (await http.post("/ok/TXA")).status_code == 200
        refused = await http.post("/refused/TXB")
        assert refused.status_code == 409
        assert refused.json()["code"] == "refused"
        assert (await http.post("/recorded/TXC")).status_code == 423
    assert sorted(set(await _codes(db)) - set(before)) == ["TXA", "TXC"]
    assert ran == ["TXA", "TXC"]  # TXB was rolled back: its after-commit work never ran
    async with db.sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(Agency).where(Agency.code == "TXC2")) == 0
