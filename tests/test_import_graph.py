"""The import graph of ``toolkit/poisonguard``: no import cycle, no private name used across modules.

Read with :mod:`ast` only (nothing is imported), so the test sees every module, even those whose
third-party dependencies are missing.

The rules
---------
**Modules.** Every ``.py`` file under ``poisonguard/`` is a module; a package is its
``__init__.py`` (``poisonguard.data`` is ``poisonguard/data/__init__.py``).

**Private name.** A name imported from another module of the package that starts with ``_`` and
is *defined* there (a function, class or variable -- not a submodule): ``from .gate import _order``,
or ``mod._order`` where ``mod`` is bound to a module of the package by an import. Such a name is
private to the module that defines it. Two things are not private names:

* a package-private *module*: ``from . import _io``, ``from ._io import atomic_write_json``,
  ``import poisonguard._io``. A leading ``_`` on a module says "not part of the public API of the
  package", not "private to one module", so any module of the package may use it -- but only its
  public names (``from ._io import _helper`` is still a private name);
* dunder names (``__version__``, ``__all__``), which are public by convention.

Names of modules outside the package (the standard library, scikit-learn...) are not checked
here.

**Cycle.** An edge A -> B for every *module-level* import in A of a module B of the package:
statements at the top of the module, in ``if``/``try``/``with`` blocks at module level, but not
inside a function or class body (the lazy-import pattern, that keeps ``poisonguard --help`` fast
and may close a loop at call time safely), and not under ``if TYPE_CHECKING:`` (never run).
``from pkg import name`` makes an edge to ``pkg.name`` when ``name`` is a submodule of ``pkg``,
and to ``pkg`` (its ``__init__``) otherwise. The parent packages Python initialises implicitly on
the way to a submodule are *not* edges: ``from poisonguard.data._read import x`` is an edge to
``poisonguard.data._read`` only. So a package ``__init__`` that re-exports its submodules
(``poisonguard/data/__init__.py`` importing ``._read``) is not in a cycle with them; it is when
one of those submodules imports a name of the ``__init__`` back at module level
(``from . import load_dataset`` in ``data/_read.py``, or ``from .. import scan`` anywhere under
``poisonguard``) -- which makes the submodule depend on a half-initialised package. Any cycle of
such edges fails the test, whatever its length.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG_DIR = Path(__file__).resolve().parents[1] / "toolkit" / "poisonguard"
PKG = "poisonguard"


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PKG_DIR.rglob("*.py")):
        parts = list(path.relative_to(PKG_DIR.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_package(mod: str) -> bool:
    return MODULES[mod].name == "__init__.py"


def _resolve(mod: str, node: ast.ImportFrom) -> str | None:
    """The absolute module named by ``from X import ...`` in module ``mod``."""
    if node.level == 0:
        return node.module
    base = mod.split(".") if _is_package(mod) else mod.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _defined_names(mod: str) -> set[str]:
    """Names bound at module level in ``mod`` (defs, classes, assignments, imports)."""
    tree = ast.parse(MODULES[mod].read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _module_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports run when the module is imported: not in functions, classes or ``if TYPE_CHECKING``."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(stmts: list[ast.stmt]) -> None:
        for s in stmts:
            if isinstance(s, (ast.Import, ast.ImportFrom)):
                found.append(s)
            elif isinstance(s, ast.If):
                if not _is_type_checking(s.test):
                    visit(s.body)
                visit(s.orelse)
            elif isinstance(s, ast.Try):
                visit(s.body)
                for h in s.handlers:
                    visit(h.body)
                visit(s.orelse)
                visit(s.finalbody)
            elif isinstance(s, (ast.With, ast.For, ast.While)):
                visit(s.body)
    visit(tree.body)
    return found


def _targets(mod: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The package modules an import statement loads, by the rules of the module docstring."""
    out = []
    if isinstance(node, ast.Import):
        out = [a.name for a in node.names if a.name in MODULES]
    else:
        base = _resolve(mod, node)
        if base in MODULES:
            for a in node.names:
                sub = f"{base}.{a.name}"
                out.append(sub if sub in MODULES else base)
    return list(dict.fromkeys(out))


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for mod, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in _module_level_imports(tree):
            graph[mod].update(t for t in _targets(mod, node) if t != mod)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _private_uses() -> list[str]:
    """Every use of another module's private name, as ``module:line: what``."""
    defined = {m: _defined_names(m) for m in MODULES}
    found = []
    for mod, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module_aliases: dict[str, str] = {}  # local name -> package module it is bound to
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                base = _resolve(mod, node)
                if base not in MODULES:
                    continue
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    if sub in MODULES:  # a module, private to the package at most: allowed
                        module_aliases[a.asname or a.name] = sub
                    elif _is_private(a.name) and base != mod:
                        found.append(f"{mod}:{node.lineno}: from {base} import {a.name}")
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name in MODULES and a.asname:
                        module_aliases[a.asname] = a.name
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in module_aliases and _is_private(node.attr)):
                target = module_aliases[node.value.id]
                sub = f"{target}.{node.attr}"
                if sub not in MODULES and target != mod and node.attr in defined[target]:
                    found.append(f"{mod}:{node.lineno}: {node.value.id}.{node.attr} ({target}.{node.attr})")
    return found


def test_the_modules_are_found():
    assert {"poisonguard", "poisonguard.gate", "poisonguard.reports.html", "poisonguard._io"} <= set(MODULES)


def test_no_import_cycle():
    cycles = _cycles(_graph())
    assert not cycles, "module-level import cycles (see this test's docstring for the rule):\n" + "\n".join(
        " <-> ".join(c) for c in cycles)


def test_no_private_name_is_used_across_modules():
    uses = _private_uses()
    assert not uses, "private names used outside their module (make them public, or move the code):\n" + "\n".join(uses)


@pytest.mark.parametrize("source, expected", [
    ("from ..gate import _load\n", ["poisonguard.reports.html:1: from poisonguard.gate import _load"]),
    ("from .._io import _helper\n", ["poisonguard.reports.html:1: from poisonguard._io import _helper"]),
    ("from .. import _io\nfrom .._io import atomic_write_text\nfrom .._version import __version__\n"
     "from . import _common\nimport poisonguard._io as io_\n", []),
    ("from .. import gate as g\nx = g._load\n",
     ["poisonguard.reports.html:2: g._load (poisonguard.gate._load)"]),
])
def test_the_private_name_rule(monkeypatch, tmp_path, source, expected):
    """The rule itself, on a planted module (``reports/html.py`` rewritten in a copy of the list)."""
    fake = tmp_path / "html.py"
    fake.write_text(source)
    monkeypatch.setitem(MODULES, "poisonguard.reports.html", fake)
    assert [u for u in _private_uses() if u.startswith("poisonguard.reports.html:")] == expected


def test_the_cycle_rule():
    graph = {"p": {"p.a"}, "p.a": set(), "p.b": {"p.c"}, "p.c": {"p.b"}}
    assert _cycles(graph) == [["p.b", "p.c"]]
    graph["p.a"] = {"p"}  # the submodule imports its package's names back
    assert sorted(_cycles(graph)) == [["p", "p.a"], ["p.b", "p.c"]]


def _all_imports(mod: str) -> set[str]:
    """Every package module ``mod`` imports, at any level (lazy and ``TYPE_CHECKING`` imports too)."""
    tree = ast.parse(MODULES[mod].read_text(encoding="utf-8"))
    return {t for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
            for t in _targets(mod, node)}


def test_the_gate_and_the_renderers_do_not_import_each_other():
    """Both read the verdict's types from ``poisonguard.verdict``; neither needs the other, not even lazily."""
    renderers = [m for m in MODULES if m.startswith("poisonguard.reports") or m == "poisonguard.plots"]
    assert not {m for m in _all_imports("poisonguard.gate") if m in renderers}
    assert not [m for m in renderers if "poisonguard.gate" in _all_imports(m)]
    assert all("poisonguard.verdict" in _all_imports(m) for m in ("poisonguard.gate", "poisonguard.reports.html"))
