"""Which problem ``code`` s a function can answer, read from the source (no import, no call).

The OpenAPI document enumerates, per operation and status, the codes the route can answer
(:mod:`samaconso.kit.openapi`). Hand-kept lists drift when a service learns a new refusal, so the
codes are derived here: every function of the package is parsed once; a function *produces* the
codes written as literals in the ways the code makes a problem (``AppError(status, "code", …)``,
``too_many(…, code=…)``, ``unavailable("service")``, ``not_found()``, ``forbidden()``,
``TariffError("code", …)``, a rate limiter's ``check(…, code=…)``), and *reaches* those of the
functions it calls, followed through the package: module functions (by name, or through an imported
module), methods of the same class (``self.x`` / ``cls.x``) and classes (their ``__init__``).

It over-approximates on purpose (a branch never taken in practice still counts) and cannot follow
calls through an object of unknown type or codes built at run time; those few stay declared by
hand in the operation table (``Op.errors``). ``tests/contract`` checks the two together against
the error catalogue and against what the fuzz run sees.
"""

from __future__ import annotations

import ast
import functools
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_PRODUCERS_STATUS = {"too_many": 429, "unavailable": 503, "call_or_503": 503}


@dataclass
class _Function:
    codes: set[str] = field(default_factory=set)
    calls: set[str] = field(default_factory=set)  # qualified names: "pkg.mod:func", "pkg.mod:Cls.meth"


def _literal(node: ast.AST | None) -> object:
    return node.value if isinstance(node, ast.Constant) else None


def _arg(call: ast.Call, index: int, keyword: str) -> ast.AST | None:
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    return call.args[index] if len(call.args) > index else None


def produced_code(call: ast.Call) -> str | None:
    """The code a call makes a problem with, when written as a literal."""
    func = call.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    if name == "AppError":
        code = _literal(_arg(call, 1, "code"))
    elif name == "TariffError":
        code = _literal(_arg(call, 0, "code"))
    elif name == "too_many":
        code = _literal(_arg(call, 1, "code")) or "too_many_requests"
    elif name == "check" and isinstance(func, ast.Attribute) and "limiter" in ast.unparse(func.value):
        code = _literal(_arg(call, 3, "code")) or "too_many_requests"
    elif name in ("unavailable", "call_or_503"):
        service = _literal(_arg(call, 0, "service"))
        code = f"{service}_unavailable" if isinstance(service, str) else None
    elif name == "not_found":
        code = "not_found"
    elif name == "forbidden":
        code = "forbidden"
    else:
        return None
    return code if isinstance(code, str) else None


class _ModuleScan(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, functions: dict[str, _Function]) -> None:
        self.module = module
        self.package = module if is_package else module.rpartition(".")[0]
        self.functions = functions
        self.aliases: dict[str, str] = {}  # local name -> "pkg.mod" (a module) or "pkg.mod:name"
        self.scope: list[str] = []
        self.current: list[_Function] = []

    # imports ------------------------------------------------------------------------------------
    def _absolute(self, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        base = self.package.split(".")
        base = base[: len(base) - (node.level - 1)]
        return ".".join(base + ([node.module] if node.module else []))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        source = self._absolute(node)
        for alias in node.names:
            # "from pkg import mod" (a module) and "from pkg.mod import func": both are kept; the
            # resolver tries the function first, then the module.
            self.aliases[alias.asname or alias.name] = f"{source}:{alias.name}"

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self.aliases[alias.asname] = alias.name

    # definitions --------------------------------------------------------------------------------
    def _define(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.scope.append(node.name)
        qualified = f"{self.module}:{'.'.join(self.scope)}"
        entry = self.functions.setdefault(qualified, _Function())
        self.current.append(entry)
        self.generic_visit(node)
        self.current.pop()
        self.scope.pop()

    visit_FunctionDef = _define
    visit_AsyncFunctionDef = _define

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    # calls --------------------------------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        if self.current:
            entry = self.current[-1]
            code = produced_code(node)
            if code:
                entry.codes.add(code)
            target = self._target(node.func)
            if target:
                entry.calls.add(target)
        self.generic_visit(node)

    def _target(self, func: ast.expr) -> str | None:
        if isinstance(func, ast.Name):
            if func.id in self.aliases:
                return self.aliases[func.id]
            # a function of this module, or one nested in an enclosing function
            nests = [".".join([*self.scope[:depth], func.id]) for depth in range(len(self.scope), -1, -1)]
            return "|".join(f"{self.module}:{name}" for name in nests)
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            owner = func.value.id
            if owner in ("self", "cls") and len(self.scope) >= 2:
                return f"{self.module}:{'.'.join(self.scope[:-1])}.{func.attr}"
            if owner in self.aliases:
                alias = self.aliases[owner]
                module = alias.replace(":", ".")  # "from pkg import mod" -> pkg.mod
                return f"{module}:{func.attr}|{alias}.{func.attr}"
            return f"{self.module}:{owner}.{func.attr}"  # a class of this module: Cls.method()
        return None


@dataclass
class CodeIndex:
    functions: dict[str, _Function]
    aliases: dict[str, dict[str, str]]  # module -> its imported names (re-exports are followed)

    def _resolve(self, target: str, depth: int = 0) -> Iterator[str]:
        for candidate in target.split("|"):
            if candidate in self.functions:
                yield candidate
            elif f"{candidate}.__init__" in self.functions:  # a class: its constructor
                yield f"{candidate}.__init__"
            elif depth < 4:
                module, _, name = candidate.partition(":")
                head, dot, rest = name.partition(".")
                alias = self.aliases.get(module, {}).get(head)
                if alias:  # a name the module imported: "from .logins import login"
                    yield from self._resolve(alias + (dot + rest if rest else ""), depth + 1)

    @functools.cache  # noqa: B019 - one index per process, never released
    def reachable(self, qualified: str) -> frozenset[str]:
        seen: set[str] = set()
        codes: set[str] = set()
        todo = [qualified]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            entry = self.functions.get(name)
            if entry is None:
                continue
            codes |= entry.codes
            for target in entry.calls:
                todo.extend(self._resolve(target))
        return frozenset(codes)

    def codes_of(self, func: Callable[..., Any]) -> frozenset[str]:
        """Every code ``func`` (a function of the package) can answer, through what it calls."""
        func = inspect.unwrap(func)
        return self.reachable(f"{func.__module__}:{func.__qualname__}")

    def __hash__(self) -> int:
        return id(self)


def scan_package(root: Path, package: str) -> CodeIndex:
    functions: dict[str, _Function] = {}
    aliases: dict[str, dict[str, str]] = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        module = ".".join([package, *parts])
        scan = _ModuleScan(module, is_package, functions)
        scan.visit(ast.parse(path.read_text(encoding="utf-8")))
        aliases[module] = scan.aliases
    return CodeIndex(functions, aliases)


@functools.cache
def package_index() -> CodeIndex:
    import samaconso

    return scan_package(Path(samaconso.__file__).parent, "samaconso")


__all__ = ["CodeIndex", "package_index", "produced_code", "scan_package"]
