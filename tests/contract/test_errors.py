"""One error catalogue: every code the code can answer is in it (with the status it is raised
with), every entry is raised somewhere, and ``GET /api/v1/errors`` publishes it in both languages."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from httpx import AsyncClient

import samaconso
from samaconso.kit.errors import ERROR_CATALOGUE, STATUS_TEXT

SRC = Path(samaconso.__file__).parent


def _literal(node: ast.AST | None) -> object:
    return node.value if isinstance(node, ast.Constant) else None


def _arg(call: ast.Call, index: int, keyword: str) -> ast.AST | None:
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    return call.args[index] if len(call.args) > index else None


def raised_codes() -> Iterator[tuple[str, int | None, str]]:
    """(code, status or None when implied, where) for every way ``src/`` produces a problem code."""
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text())
        where = str(path.relative_to(SRC))
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                # realtime error messages: {"type": "error", "code": "..."}
                pairs = {_literal(k): _literal(v) for k, v in zip(node.keys, node.values, strict=True) if k}
                if pairs.get("type") == "error" and isinstance(pairs.get("code"), str):
                    yield str(pairs["code"]), None, where
            if (
                isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "SERVICE_NAME" for t in node.targets)
                and isinstance(node.value, ast.Dict)
            ):
                # legacy breakers: call_or_503(SERVICE_NAME[db]) -> <name>_unavailable
                for value in node.value.values:
                    yield f"{_literal(value)}_unavailable", 503, where
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name == "AppError":
                status, code = _literal(_arg(node, 0, "status")), _literal(_arg(node, 1, "code"))
                if isinstance(code, str):
                    yield code, int(status) if isinstance(status, int) else None, where
            elif name == "too_many":
                code = _literal(_arg(node, 1, "code"))
                yield (code if isinstance(code, str) else "too_many_requests"), 429, where
            elif name == "check" and isinstance(func, ast.Attribute) and "limiter" in ast.unparse(func.value):
                code = _literal(_arg(node, 3, "code"))
                yield (code if isinstance(code, str) else "too_many_requests"), 429, where
            elif name in ("unavailable", "call_or_503"):
                service = _literal(_arg(node, 0, "service"))
                if isinstance(service, str):
                    yield f"{service}_unavailable", 503, where
            elif name == "TariffError":
                code = _literal(_arg(node, 0, "code"))
                if isinstance(code, str):
                    yield code, 422, where  # tariffs.service._engine_error answers 422
            elif name == "not_found":
                yield "not_found", 404, where
            elif name == "forbidden":
                yield "forbidden", 403, where


def test_every_raised_code_is_catalogued_with_its_status() -> None:
    found = list(raised_codes())
    assert len(found) > 80
    for code, status, where in found:
        assert code in ERROR_CATALOGUE, f"{where}: code {code!r} is not in kit/errors.py ERROR_CATALOGUE"
        if status is not None:
            assert ERROR_CATALOGUE[code].status == status, f"{where}: {code} raised as {status}"


def test_every_catalogued_code_is_raised_somewhere() -> None:
    raised = {code for code, _, _ in raised_codes()}
    framework = {code for code, _, _ in STATUS_TEXT.values()}  # the handlers' generic statuses
    unused = set(ERROR_CATALOGUE) - raised - framework
    assert not unused, f"catalogued but never raised: {sorted(unused)}"


def test_catalogue_texts_exist_in_both_languages() -> None:
    for code, entry in ERROR_CATALOGUE.items():
        assert 400 <= entry.status <= 599, code
        assert entry.fr.strip(), code
        assert entry.en.strip(), code
        assert entry.fr != entry.en or code in {"validation_error"}, code


async def test_the_catalogue_is_published(client: AsyncClient) -> None:
    response = await client.get("/api/v1/errors")  # public: no token
    assert response.status_code == 200
    codes = {c["code"]: c for c in response.json()["codes"]}
    assert set(codes) == set(ERROR_CATALOGUE)
    assert codes["meter_not_found"] == {
        "code": "meter_not_found",
        "status": 404,
        "title": {"fr": "Compteur introuvable.", "en": "Meter not found."},
    }
    assert response.headers["content-language"] == "fr"
    assert (await client.get("/api/v1/errors?lang=en")).status_code == 400  # no such parameter
