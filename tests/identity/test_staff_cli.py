"""The first administrator is created from the operator's shell, then logs in through the API."""

from __future__ import annotations

import os
import subprocess
import sys

from httpx import AsyncClient

from samaconso.kit.db import Database


def _cli(*args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "samaconso.cli", "staff", "create", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=60,
    )


async def test_first_admin_from_the_command_line_can_log_in(client: AsyncClient, db: Database) -> None:
    password = "Premier-Admin-2026!"
    done = _cli("--login", "admin.dsi", "--first-name", "Awa", "--last-name", "Ndiaye", stdin=password + "\n")
    assert done.returncode == 0, done.stderr
    assert "admin.dsi (admin)" in done.stdout
    assert password not in done.stdout + done.stderr

    response = await client.post(
        "/api/v1/auth/staff/login", json={"login": "admin.dsi", "password": password}
    )
    assert response.status_code == 200
    me = await client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {response.json()['access_token']}"}
    )
    assert me.json()["role"] == "admin"


async def test_cli_refuses_a_weak_password_and_a_taken_login(client: AsyncClient, db: Database) -> None:
    weak = _cli("--login", "admin.weak", "--first-name", "A", "--last-name", "B", stdin="abc\n")
    assert weak.returncode != 0
    assert "password" in weak.stderr
    ok = _cli("--login", "admin.dsi", "--first-name", "A", "--last-name", "B", stdin="Premier-Admin-2026!\n")
    assert ok.returncode == 0, ok.stderr
    again = _cli(
        "--login", "admin.dsi", "--first-name", "A", "--last-name", "B", stdin="Premier-Admin-2026!\n"
    )
    assert again.returncode != 0
    assert "existe déjà" in again.stderr
