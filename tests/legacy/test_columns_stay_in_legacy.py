"""Legacy column names live in the legacy package only: services read typed records.

Every column of the SQL Server tables we read (``legacy/tables.py``) whose name is in the legacy
style (upper case, camelCase, spaces: ``nomClient``, ``N PARTENAIRE``, ``ENERGIE_VENDUE``…) must not
appear as a string anywhere else in the application's code.
"""

from __future__ import annotations

import ast
from pathlib import Path

from samaconso.legacy import tables

SRC = Path(tables.__file__).resolve().parents[1]


def _legacy_style(name: str) -> bool:
    return name != name.lower() or " " in name


def _legacy_columns() -> set[str]:
    """The tables' column names and the labels the queries give their answers (``nomClient``)."""
    names = {c.name for t in tables.legacy_metadata.tables.values() for c in t.columns}
    queries = ast.parse((SRC / "legacy" / "queries.py").read_text())
    for node in ast.walk(queries):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "label"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value)
    return {n for n in names if _legacy_style(n)}


def test_the_check_knows_the_legacy_columns() -> None:
    names = _legacy_columns()
    assert {"nomClient", "N PARTENAIRE", "ENERGIE_VENDUE", "COMPTE CONTRAT"} <= names


def test_no_legacy_column_name_outside_the_legacy_package() -> None:
    names = _legacy_columns()
    found: list[str] = []
    for path in SRC.rglob("*.py"):
        if path.is_relative_to(SRC / "legacy"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names:
                found.append(f"{path.relative_to(SRC)}:{node.lineno} {node.value!r}")
    assert found == []
