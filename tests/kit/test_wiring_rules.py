"""Two wiring rules of ``ARCHITECTURE.md`` §6, read from the source (AST, no import):

* only the typed dependencies (``kit/deps.py``) and the factory (``app.py``) read or write
  ``app.state``: every other module receives what the lifespan built through a dependency;
* SQLAlchemy statements (``select``, ``insert``, ``update``, ``delete``, ``text``) are built only in
  repository modules (``repository.py``, ``*_repository.py``), plus a short allow-list with reasons.

Each check is also run on a small module that breaks it, so it is known to fail when it should.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "samaconso"

# Module (relative to src/samaconso) -> why it may touch app.state.
APP_STATE_ALLOWED: dict[str, str] = {
    "kit/deps.py": "the typed dependencies: the one reader of what the lifespan built",
    "app.py": "create_app: its lifespan hands the resources built by wiring.py to the app",
    "kit/problems.py": "memoises the app's route/method table for 405 answers (derived from routes, no resource)",
}

STATEMENTS = frozenset({"select", "insert", "update", "delete", "text"})

# Module -> why it may build SQLAlchemy statements outside a repository.
SQL_ALLOWED: dict[str, str] = {
    "legacy/queries.py": "the legacy SQL Server statements behind the gateway (the legacy domain's repository)",
    "legacy/simulated.py": "DDL of the simulated legacy source (schemas, T-SQL built-ins, ANALYZE)",
    "system/health.py": "the readiness probe's SELECT 1",
}


def _is_repository(relative: str) -> bool:
    name = relative.rsplit("/", 1)[-1]
    return name == "repository.py" or name.endswith("_repository.py")


def app_state_uses(tree: ast.AST) -> list[int]:
    """Lines that reach ``<x>.app.state`` or ``app.state``."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "state":
            owner = node.value
            if (isinstance(owner, ast.Name) and owner.id == "app") or (
                isinstance(owner, ast.Attribute) and owner.attr == "app"
            ):
                lines.append(node.lineno)
        # getattr(app, "state") / getattr(request.app, "state")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value == "state"
        ):
            lines.append(node.lineno)
    return sorted(lines)


def statement_calls(tree: ast.AST) -> list[tuple[int, str]]:
    """Calls of SQLAlchemy's statement constructors, however they were imported."""
    names: dict[str, str] = {}
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "sqlalchemy":
            for alias in node.names:
                if alias.name in STATEMENTS:
                    names[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "sqlalchemy":
                    modules.add(alias.asname or alias.name.split(".")[0])
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in names:
            calls.append((node.lineno, names[func.id]))
        elif (
            isinstance(func, ast.Attribute)
            and func.attr in STATEMENTS
            and isinstance(func.value, ast.Name)
            and func.value.id in modules
        ):
            calls.append((node.lineno, func.attr))
    return sorted(calls)


def _sources() -> list[tuple[str, ast.AST]]:
    return [
        (p.relative_to(SRC).as_posix(), ast.parse(p.read_text(encoding="utf-8")))
        for p in sorted(SRC.rglob("*.py"))
    ]


def test_only_the_typed_dependencies_touch_app_state() -> None:
    offenders = {
        relative: lines
        for relative, tree in _sources()
        if relative not in APP_STATE_ALLOWED and (lines := app_state_uses(tree))
    }
    assert offenders == {}, f"app.state read outside kit/deps.py (use a typed dependency): {offenders}"


def test_sql_statements_only_in_repositories() -> None:
    offenders: dict[str, list[tuple[int, str]]] = {}
    for relative, tree in _sources():
        if _is_repository(relative) or relative in SQL_ALLOWED:
            continue
        calls = statement_calls(tree)
        if relative.endswith("models.py"):  # table definitions: text() only for server defaults
            calls = [(line, name) for line, name in calls if name != "text"]
        if calls:
            offenders[relative] = calls
    assert offenders == {}, f"SQL statements outside repository modules: {offenders}"


def test_allow_lists_name_modules_that_exist_and_still_need_it() -> None:
    trees = dict(_sources())
    for relative in APP_STATE_ALLOWED:
        assert app_state_uses(trees[relative]), (
            f"{relative} no longer touches app.state: drop it from the list"
        )
    for relative in SQL_ALLOWED:
        assert statement_calls(trees[relative]), (
            f"{relative} builds no statement any more: drop it from the list"
        )


def test_the_checks_catch_a_module_that_breaks_them() -> None:
    router = ast.parse(
        "from fastapi import Request\n"
        "async def route(request: Request) -> None:\n"
        "    db = request.app.state.db\n"
        "    hub = getattr(websocket.app, 'state').realtime\n"
    )
    assert app_state_uses(router) == [3, 4]
    seed = ast.parse(
        "import sqlalchemy as sa\n"
        "from sqlalchemy import select as pick\n"
        "from sqlalchemy.dialects.postgresql import insert\n"
        "async def seed(session):\n"
        "    await session.execute(pick(User.id))\n"
        "    await session.execute(insert(Agency).values([]))\n"
        "    await session.execute(sa.text('SELECT 1'))\n"
        "    {}.update(a=1)\n"  # a dict's update is not SQL
    )
    assert statement_calls(seed) == [(5, "select"), (6, "insert"), (7, "text")]


IMPORT_EVERYTHING = """
import importlib, json, pkgutil
import samaconso
from celery import signals
for module in pkgutil.walk_packages(samaconso.__path__, "samaconso."):
    importlib.import_module(module.name)
from samaconso.worker import BEAT_SCHEDULE, celery_app
hooks = {name: len(getattr(signals, name).receivers) for name in signals.__all__}
print(json.dumps({"hooks": {k: v for k, v in hooks.items() if v},
                  "beat": sorted(celery_app.conf.beat_schedule) == sorted(BEAT_SCHEDULE)}))
"""


def test_importing_every_module_connects_no_hook_and_keeps_the_schedule() -> None:
    """Importing a module changes no hook list: the worker's process and logging hooks are
    installed by the ``samaconso worker|beat|flower`` commands (``worker_wiring.install_process_hooks``,
    ``worker.install_logging_hook``), and the beat schedule is the one table of ``worker.py``."""
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERYTHING], capture_output=True, text=True, timeout=180, env=os.environ
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"hooks": {}, "beat": True}


def _layout_section() -> str:
    readme = (SRC.parents[1] / "README.md").read_text(encoding="utf-8")
    start = readme.index("Code layout (`src/samaconso/`")
    return readme[start : readme.index("Outside the package:", start)]


def test_the_readme_layout_names_every_module_and_folder_and_only_those() -> None:
    from samaconso.domains import DOMAINS

    section = _layout_section()
    named = re.findall(r"`([\w/.]+)`", section)
    top_modules = {p.name for p in SRC.glob("*.py") if p.name != "__init__.py"}
    packages = {p.name + "/" for p in SRC.iterdir() if (p / "__init__.py").exists()}
    assert top_modules - set(named) == set(), "top-level modules missing from the README layout"
    assert packages - set(named) == set(), "packages missing from the README layout"
    folders = [n for n in named if n.endswith("/") and n != "src/samaconso/"]
    assert set(folders) <= packages, f"README names folders that do not exist: {set(folders) - packages}"
    listed = list(dict.fromkeys(f[:-1] for f in folders if f[:-1] in DOMAINS))  # first mention of each
    assert listed == list(DOMAINS), "the README lists the domains in domains.py order"
    every_module = {p.name for p in SRC.rglob("*.py")}
    assert {n for n in named if n.endswith(".py") and "/" not in n} <= every_module
    room_lists = re.findall(r"`(\w+)/`:\s([^;)]*)", section)
    assert {package for package, _ in room_lists} == {"identity", "tariffs"}
    for package, rooms in room_lists:
        for room in re.findall(r"`(\w+\.py)`", rooms):
            assert (SRC / package / room).exists(), f"README: {package}/{room} does not exist"


def test_no_module_keeps_a_resource_in_a_global() -> None:
    """Resources live in what the start-ups build (``wiring.py``, ``worker_wiring.py``), not in
    module globals rebound at run time (``global``)."""
    offenders = {
        relative: [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Global)]
        for relative, tree in _sources()
    }
    assert {k: v for k, v in offenders.items() if v} == {}
    assert [
        n.lineno for n in ast.walk(ast.parse("def f():\n    global _pusher\n")) if isinstance(n, ast.Global)
    ] == [2]
