"""The package's import graph: no cycles among its modules, and no module over ~400 lines unexplained.

What the cycle test checks: every ``import`` / ``from … import`` statement of every module of
``remove_people``, wherever it stands, function bodies included (the lazy imports that keep
``--help`` and cached runs fast), except under ``if TYPE_CHECKING:``. An edge goes from a
module to each package module it names (``from a.b import c`` names ``a.b.c`` when that is a
module, else ``a.b``); the implicit import of a parent package's ``__init__`` is not an edge
(every ``__init__`` here is a docstring or registry table). Counting lazy imports is stricter
than Python needs, since a cycle through a function body cannot fail at import time, but such
a cycle is still two modules that each need the other, which is what the layering forbids:
lower layers (errors, settings, formats, hashing, the weights table) never reach up.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "remove_people"
#: A module may be longer than this only if its docstring says why (a line containing "Why so long").
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(modules: dict[str, Path] | None = None) -> dict[str, set[str]]:
    """Module -> the package modules it imports (see the module docstring for what counts)."""
    modules = modules or _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        is_package = path.name == "__init__.py"
        stack: list[ast.AST] = [ast.parse(path.read_text(encoding="utf-8"))]
        while stack:
            node = stack.pop()
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                    stack.extend(child.orelse)
                    continue
                if isinstance(child, ast.Import):
                    targets.update(t for a in child.names if (t := _resolve(a.name, modules)))
                elif isinstance(child, ast.ImportFrom):
                    base = child.module or ""
                    if child.level:
                        pkg = name.split(".") if is_package else name.split(".")[:-1]
                        pkg = pkg[: len(pkg) - (child.level - 1)]
                        base = ".".join(pkg + ([base] if base else []))
                    for a in child.names:
                        full = f"{base}.{a.name}"
                        t = full if full in modules else _resolve(base, modules)
                        if t:
                            targets.add(t)
                stack.append(child)
        targets.discard(name)
        graph[name] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    """The checker itself can fail: a two-module and a three-module loop are both reported."""
    g = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c", "a"}, "f": {"a"}}
    assert sorted(cycles(g)) == [["a", "b"], ["c", "d", "e"]]


def test_the_graph_sees_lazy_and_relative_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "remove_people"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "a.py").write_text("def f():\n    from remove_people.sub import b\n")
    (pkg / "sub" / "b.py").write_text("from . import a\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from remove_people import c\n")
    (pkg / "c.py").write_text("import remove_people.sub.a\n")
    modules = {
        "remove_people": pkg / "__init__.py", "remove_people.sub": pkg / "sub" / "__init__.py",
        "remove_people.sub.a": pkg / "sub" / "a.py", "remove_people.sub.b": pkg / "sub" / "b.py",
        "remove_people.c": pkg / "c.py",
    }  # fmt: skip
    g = import_graph(modules)
    assert g["remove_people.sub.a"] == {"remove_people.sub.b"}
    assert g["remove_people.sub.b"] == {"remove_people.sub.a"}  # the TYPE_CHECKING import is not an edge
    assert g["remove_people.c"] == {"remove_people.sub.a"}
    assert cycles(g) == [["remove_people.sub.a", "remove_people.sub.b"]]


def test_no_import_cycles_among_the_package_modules() -> None:
    graph = import_graph()
    assert len(graph) > 50  # the package was found
    assert cycles(graph) == []


def test_no_module_over_400_lines_without_a_reason() -> None:
    """Small modules with one job; a longer one says why in its docstring ("Why so long: …")."""
    too_long = []
    for name, path in sorted(_modules().items()):
        text = path.read_text(encoding="utf-8")
        n = text.count("\n")
        if n > MAX_LINES and "Why so long" not in (ast.get_docstring(ast.parse(text)) or ""):
            too_long.append(f"{name} ({n} lines)")
    assert not too_long, "over 400 lines with no 'Why so long' in the docstring: " + ", ".join(too_long)
