"""The import contracts (``.importlinter``, run by ``make lint``) hold, and really fail on a new cycle.

The check runs the real tool (``lint-imports``) on the code as it is, then on a copy of the package
with one added import that closes a cycle between two domains: it must fail and name it. The
deployment rehearsal's scripts are not a package the tool sees; their direction is checked here.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path, src: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_contracts_hold_on_the_code() -> None:
    result = _lint(ROOT, ROOT / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_new_cycle_between_domains_breaks_the_lint(tmp_path: Path) -> None:
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    shutil.copytree(ROOT / "src" / "samaconso", tmp_path / "src" / "samaconso")
    # consumption already uses tariffs; tariffs using consumption back closes a cycle
    grid = tmp_path / "src" / "samaconso" / "tariffs" / "grid.py"
    grid.write_text(
        grid.read_text() + "\nfrom samaconso.consumption import service as _consumption  # noqa\n"
    )
    result = _lint(tmp_path, tmp_path / "src")
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    assert ".tariffs -> .consumption" in result.stdout or ".consumption -> .tariffs" in result.stdout


def test_a_service_importing_fastapi_breaks_the_lint(tmp_path: Path) -> None:
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    shutil.copytree(ROOT / "src" / "samaconso", tmp_path / "src" / "samaconso")
    pins = tmp_path / "src" / "samaconso" / "identity" / "pins.py"
    pins.write_text(pins.read_text() + "\nfrom samaconso.kit.deps import SessionDep  # noqa\n")
    result = _lint(tmp_path, tmp_path / "src")
    assert result.returncode != 0
    assert "samaconso.identity.pins is not allowed to import fastapi" in result.stdout


def _sibling_imports(path: Path, siblings: set[str]) -> set[str]:
    """Every sibling module a script imports, wherever the import statement is (top, function,
    ``if TYPE_CHECKING``): a lazy import is still a dependency."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module in siblings:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in siblings}
    return found


def test_rehearsal_scripts_import_in_one_direction() -> None:
    folder = ROOT / "deploy" / "rehearsal"
    scripts = {p.stem: p for p in folder.glob("*.py")}
    graph = {name: _sibling_imports(path, set(scripts) - {name}) for name, path in scripts.items()}
    assert graph["rehearsal"] >= {"scenario", "netns"}
    for name, targets in graph.items():
        for target in targets:
            assert name not in graph[target], f"{name} <-> {target}"
