"""The production image installs the base dependencies only (Dockerfile: ``uv sync --frozen --no-dev``,
no extra): the API and the worker must build without the packages of the ``embedded`` extra.

The app is built in a subprocess where importing any package that only the ``embedded`` extra brings
raises ImportError, as it would in the image (found by `make rehearsal-containers`: the docs assets
package was in the extra and api_1/api_2 crashed at start)."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip().lower().replace("_", "-")


def _top_level_modules(dist_name: str) -> set[str]:
    dist = importlib.metadata.distribution(dist_name)
    names = set()
    for file in dist.files or ():
        first = file.parts[0]
        if first.endswith((".dist-info", ".data")) or first in ("..", "bin", "__pycache__"):
            continue
        names.add(first.removesuffix(".py"))
    return {n for n in names if n.isidentifier()}


def test_api_and_worker_build_without_the_embedded_extra() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = {_name(r) for r in project["dependencies"]}
    embedded_only = sorted({_name(r) for r in project["optional-dependencies"]["embedded"]} - base)
    assert embedded_only, "the embedded extra brings nothing of its own?"
    blocked = sorted(set().union(*(_top_level_modules(d) for d in embedded_only)))
    assert blocked
    script = (
        "import importlib.abc, sys\n"
        f"BLOCKED = {blocked!r}\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in BLOCKED:\n"
        "            raise ImportError(f'{name}: not in the production image')\n"
        "        return None\n"
        "sys.meta_path.insert(0, Block())\n"
        "from samaconso.settings import Settings\n"
        "from samaconso.app import create_app\n"
        "app = create_app(Settings(public_docs=True))\n"
        "import samaconso.worker\n"
        "paths = {getattr(r, 'path', '') for r in app.routes}\n"
        "assert '/docs' in paths and '/redoc' in paths, sorted(paths)\n"
        "print('built without', BLOCKED)\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "built without" in res.stdout
