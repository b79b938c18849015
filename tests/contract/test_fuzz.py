"""Schemathesis over the whole OpenAPI document, as the customer, an agent and an administrator.

All checks (server errors, response schemas, status codes, content types, headers, negative data,
allowed methods…) with a bounded number of examples per operation, against the app served by
uvicorn. Operations that can end the caller's session (``deleteMe``, ``logOut``, and
``updateStaffUser``: an administrator who sets their own password or deactivates themselves signs
themselves out) run last, in their own pass, so the other operations are not all answered 401. The report (NDJSON) is kept in the
test's artefacts directory."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from tests.contract.conftest import LiveServer, Roles

CONFIG = Path(__file__).with_name("schemathesis.toml")
LAUNCHER = Path(__file__).with_name("run_schemathesis.py")
MAX_EXAMPLES = 3
SESSION_ENDING = ("deleteMe", "logOut", "updateStaffUser")


async def _run(
    live_server: LiveServer, token: str, artefacts: Path, name: str, phases: str, *selection: str
) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(LAUNCHER),  # schemathesis, with ast.parse made thread-safe (see the file)
        "--config-file",
        str(CONFIG),
        "run",
        f"{live_server.url}/openapi.json",
        "--url",
        live_server.url,
        "-H",
        f"Authorization: Bearer {token}",
        "--checks",
        "all",
        "--phases",
        phases,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        "20261201",
        "--workers",
        "2",
        "--max-response-time",
        "60",
        "--request-timeout",
        "90",
        "--no-color",
        "--report",
        "ndjson",
        "--report-dir",
        str(artefacts),
        "--report-ndjson-path",
        str(artefacts / f"{name}.ndjson"),
        *selection,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=str(artefacts),  # its cache (.schemathesis/) stays out of the work tree
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=600)
    text = out.decode(errors="replace")
    (artefacts / f"{name}.txt").write_text(text)
    return proc.returncode or 0, text


@pytest.mark.timeout(900)
@pytest.mark.parametrize("role", ["customer", "agent", "admin"])
async def test_schemathesis_finds_nothing(
    live_server: LiveServer, roles: Roles, artefacts: Path, role: str
) -> None:
    token = getattr(roles, role).token
    excluded = [arg for op in SESSION_ENDING for arg in ("--exclude-operation-id", op)]
    # The coverage phase (boundaries and negative values of every field) is run with the admin token,
    # which passes every role guard, so it reaches the validation of every operation; the customer
    # and the agent get the examples and random (fuzzing) phases: it keeps the whole under ~3 min.
    phases = "examples,coverage,fuzzing" if role == "admin" else "examples,fuzzing"
    code, text = await _run(live_server, token, artefacts, f"{role}-all", phases, *excluded)
    assert code == 0, text[-12000:]
    assert "Tested: 0" not in text
    included = [arg for op in SESSION_ENDING for arg in ("--include-operation-id", op)]
    code, text = await _run(live_server, token, artefacts, f"{role}-session-ending", phases, *included)
    assert code == 0, text[-12000:]
