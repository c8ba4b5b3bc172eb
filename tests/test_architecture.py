"""The house rules of ../shared/ARCHITECTURE.md, read from the source with ast.

Every import counts, at module level or inside a function (a function-local import
is still a dependency); only imports under ``if TYPE_CHECKING:`` are left out.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("server", "tiles", "layers", "bim_import")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _type_checking_lines(tree: ast.AST) -> set[int]:
    """Line numbers of statements under ``if TYPE_CHECKING:`` (type-only imports)."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imported_names(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every module ``name`` imports: project modules by full name, others by top name."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_lines(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:  # `from pkg import submodule` depends on the submodule
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in modules else base)
    return {n if n in modules else _project_prefix(n, modules) or n.split(".")[0]
            for n in found}


def _project_prefix(name: str, modules: dict[str, Path]) -> str | None:
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in modules:
            return ".".join(parts[:end])
    return None


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imported_names(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for dep in graph.get(node, ()):
            if dep not in graph or dep == node:
                continue
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(groups)


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_no_import_cycles_among_the_packages():
    found = cycles(import_graph())
    assert found == [], "import cycles: " + "; ".join(" <-> ".join(g) for g in found)


#: package -> (project packages/modules it may import, besides itself)
ALLOWED = {
    "tiles": (),
    "layers": (),
    "bim_import": ("tiles.model", "tiles.georef"),
}
#: Third-party packages only server/ may import (domain code knows nothing of HTTP).
HTTP = ("flask", "werkzeug", "waitress")
#: package -> third-party packages it must not import (ARCHITECTURE.md: "tiles/ ... No
#: Flask, no geopandas, no ifcopenshell").
FORBIDDEN = {"tiles": ("geopandas", "ifcopenshell")}


def _violations(package: str, allowed: tuple[str, ...]) -> list[str]:
    out = []
    for name, deps in sorted(import_graph().items()):
        if name.split(".")[0] != package:
            continue
        for dep in sorted(deps):
            top = dep.split(".")[0]
            if top in HTTP:
                out.append(f"{name} imports {dep} (only server/ may import {top})")
            elif top in FORBIDDEN.get(package, ()):
                out.append(f"{name} imports {dep} (not allowed in {package}/)")
            elif top in PACKAGES and top != package and dep not in allowed:
                out.append(f"{name} imports {dep}")
    return out


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_dependency_direction(package):
    """tiles and layers import nothing of the project; bim_import only tiles.model/georef."""
    assert _violations(package, ALLOWED[package]) == []


def test_the_rules_catch_a_forbidden_import(tmp_path, monkeypatch):
    """The walker sees a function-local import of the server from tiles (a real breach)."""
    fake = tmp_path / "tiles"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "bad.py").write_text("def f():\n    from server.app import create_app\n"
                                 "    import flask\n    import geopandas\n")
    (tmp_path / "server").mkdir()
    (tmp_path / "server" / "__init__.py").write_text("")
    (tmp_path / "server" / "app.py").write_text("")
    for pkg in ("layers", "bim_import"):
        (tmp_path / pkg).mkdir()
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    assert _violations("tiles", ()) == ["tiles.bad imports flask (only server/ may import flask)",
                                        "tiles.bad imports geopandas (not allowed in tiles/)",
                                        "tiles.bad imports server.app"]
