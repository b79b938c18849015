"""Console fixtures: the simulated legacy source, the FCM stand-in, real ``samaconso api`` and
``samaconso worker`` subprocesses (from the notifications fixtures), and where screenshots go."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.notifications.conftest import start_api, start_worker

__all__ = ["start_api", "start_worker"]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(
    os.environ.get("SAMACONSO_CONSOLE_SCREENSHOTS", ROOT / "artifacts" / "console-screenshots")
)


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    return SCREENSHOTS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    shots = sorted(SCREENSHOTS.glob("*.png")) if SCREENSHOTS.is_dir() else []
    if shots:
        terminalreporter.write_line(f"console screenshots ({len(shots)}): {SCREENSHOTS}")
