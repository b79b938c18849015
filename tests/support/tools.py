"""Tests that need a program: when it is missing the test is skipped and says so, never replaced by a
weaker check that would pass in its place."""

from __future__ import annotations

import os
import shutil

import pytest


def require_tool(name: str, why: str) -> str:
    """The path of ``name``, or skip the test: "<name> not installed: <why>"."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed: {why}")
    return path


def require_root(why: str) -> None:
    if os.geteuid() != 0:
        pytest.skip(f"needs root: {why}")
