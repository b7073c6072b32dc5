"""The package's shape: a one-way import graph, modules of a readable size, a true map.

The import graph is read from the source with ``ast``: every ``import`` of a module of the
package counts, at module level or inside a function (a lazy import is still a dependency), except
those under ``if TYPE_CHECKING:``. Importing a submodule is not counted as importing its parent
package's ``__init__``; the lazy ``_EXPORTS`` of a package's ``__init__`` (names looked up with
``importlib`` on first use) are not imports. ``ARCHITECTURE.md``'s module table must list every
module in import order.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "embedcausal"
#: most lines a module may have
MAX_LINES = 400


def module_names() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, those under ``if TYPE_CHECKING:`` left out."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that module ``name`` imports."""
    is_package = path.name == "__init__.py"
    out = set()
    for node in _imports(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            if node.level:  # relative: resolved against the importing module's package
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                prefix = ".".join([*base, *([node.module] if node.module else [])])
            else:
                prefix = node.module or ""
            targets = [
                f"{prefix}.{alias.name}" if f"{prefix}.{alias.name}" in modules else prefix
                for alias in node.names
            ]
        out.update(t for t in targets if t in modules and t != name)
    return out


def import_graph() -> nx.DiGraph:
    modules = module_names()
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        graph.add_edges_from((name, target) for target in imported_modules(name, path, modules))
    return graph


def test_graph_sees_imports():
    graph = import_graph()
    # a module-level import and an import inside a function
    assert graph.has_edge("embedcausal.fitting", "embedcausal.plan")
    assert graph.has_edge("embedcausal.runs", "embedcausal.loglik")


def _cycle(graph: nx.DiGraph, component: set[str]) -> str:
    edges = nx.find_cycle(graph.subgraph(component))
    path = " -> ".join([*(u for u, _ in edges), edges[0][0]])
    others = sorted(component - {u for u, _ in edges})
    return path + (f" (and through {', '.join(others)})" if others else "")


def test_import_graph_has_no_cycle():
    graph = import_graph()
    cycles = sorted(_cycle(graph, c) for c in nx.strongly_connected_components(graph) if len(c) > 1)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_modules_are_short():
    too_long = {
        name: n
        for name, path in module_names().items()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not too_long, f"modules over {MAX_LINES} lines: " + ", ".join(
        f"{name} ({n})" for name, n in sorted(too_long.items(), key=lambda kv: -kv[1])
    )


def architecture_rows() -> dict[str, int]:
    """Row number of each module (``fitting.py``) or subpackage (``parallel/``) in the table."""
    rows = [
        line
        for line in (REPO / "ARCHITECTURE.md").read_text().splitlines()
        if line.startswith("| `")
    ]
    out = {}
    for i, line in enumerate(rows):
        cell = line.split("|")[1].strip().strip("`").removesuffix(".py").rstrip("/")
        out["embedcausal." + cell.replace("/", ".")] = i
    return out


def test_architecture_table_lists_every_module_in_import_order():
    rows = architecture_rows()

    def row(module: str) -> int | None:  # a subpackage's modules share its row
        parts = module.split(".")
        while len(parts) > 1 and ".".join(parts) not in rows:
            parts.pop()
        return rows.get(".".join(parts))

    graph = import_graph()
    graph.remove_node("embedcausal")  # the package's lazy facade (and its __version__)
    missing = sorted(m for m in graph if row(m) is None)
    assert not missing, f"ARCHITECTURE.md's module table does not list {missing}"
    upward = sorted(
        f"{m} imports {t}, listed below it"
        for m, t in graph.edges
        if row(t) > row(m)  # within one subpackage's row any order is allowed
    )
    assert not upward, "ARCHITECTURE.md's table is not in import order:\n" + "\n".join(upward)
