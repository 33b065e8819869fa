"""The import graph of ``detector/``: which module imports which, drawn as text or Graphviz DOT.

Every ``import`` counts, at module level or inside a function (a lazy import that hides a circle is still a
circle), ``if TYPE_CHECKING:`` ones included. The layers say which folder may import which: a module may import
its own folder and any folder on a lower layer, never one on its own layer or above.

    python scripts/import_graph.py            # each module and what it imports, then any circle or upward import
    python scripts/import_graph.py --dot      # the graph as Graphviz DOT, one cluster per folder
    python scripts/import_graph.py --folders  # folder to folder only

``tests/test_layout.py`` asserts that the graph has no circle and no import that runs back up.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

PACKAGE = "detector"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE

# Lowest first. Folders on one layer do not import each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("detector.errors", "detector.types", "detector.config"),
    ("detector.models",),
    ("detector.analysis",),
    ("detector.outputs", "detector.training"),
    ("detector.evaluation", "detector.archive"),
    ("detector.shipping",),
    ("detector.cli",),
    ("detector", "detector.__main__"),
)


def module_name(path: Path, root: Path = ROOT) -> str:
    """``detector/analysis/video.py`` -> ``detector.analysis.video``; a package's ``__init__`` is the package."""
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(node: ast.AST, current: str, is_package: bool) -> Iterator[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = current.split(".")
            base = base[: len(base) - node.level + (1 if is_package else 0)]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        # ``from detector.analysis import video`` imports the module detector.analysis.video; the package's
        # ``__init__`` runs too, but an edge to it would hide which module is used. Names that are not modules
        # (``from detector.analysis.video import probe``) import the module itself.
        submodules = [f"{module}.{alias.name}" for alias in node.names]
        yield from submodules
        yield module


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module name -> the ``detector`` modules it imports (packages and modules that exist under ``root``)."""
    paths = sorted(root.rglob("*.py"))
    names = {module_name(path, root): path for path in paths}
    graph: dict[str, set[str]] = {}
    for name, path in names.items():
        tree = ast.parse(path.read_text(), str(path))
        targets = set()
        for node in ast.walk(tree):
            imported = [module for module in _imported(node, name, path.name == "__init__.py") if module in names]
            if isinstance(node, ast.ImportFrom) and len(imported) > 1:
                # Submodules were named: the last entry, the package they come from, is not used for itself.
                imported = imported[:-1]
            targets.update(module for module in imported if module != name)
        # Importing ``detector.cli.common`` runs ``detector/cli/__init__.py`` first: that package is imported too,
        # so a package whose ``__init__`` imports the modules that import it is a circle. (The root package is
        # left out: its ``__init__`` imports nothing, every name in it is loaded when first used.)
        targets.update(package for target in list(targets) for package in _packages_above(target, names))
        targets.discard(name)
        graph[name] = targets
    return graph


def _packages_above(module: str, names: Mapping[str, Path]) -> list[str]:
    """``detector.cli.common`` -> ``["detector.cli"]``: the packages below the root that importing it runs."""
    parts = module.split(".")
    return [".".join(parts[:end]) for end in range(2, len(parts)) if ".".join(parts[:end]) in names]


def layer_of(module: str) -> tuple[int, str]:
    """The layer (index into ``LAYERS``) and folder a module belongs to: the longest prefix named in ``LAYERS``."""
    best: tuple[int, str] | None = None
    for index, folders in enumerate(LAYERS):
        for folder in folders:
            if (module == folder or module.startswith(folder + ".")) and (best is None or len(folder) > len(best[1])):
                best = (index, folder)
    if best is None:
        raise ValueError(f"{module} is in no layer: add its folder to LAYERS")
    return best


def upward_imports(graph: Mapping[str, set[str]]) -> list[tuple[str, str]]:
    """Imports that run sideways or back up: into a folder on the importer's own layer or a higher one."""
    found = []
    for module, targets in graph.items():
        layer, folder = layer_of(module)
        for target in targets:
            if module.startswith(target + "."):
                continue  # its own package, which Python runs on the way in
            target_layer, target_folder = layer_of(target)
            if target_folder != folder and target_layer >= layer:
                found.append((module, target))
    return sorted(found)


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of two or more modules (each holds at least one circle), sorted."""
    index_of: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        # Tarjan's algorithm; the graph has under a hundred nodes, so recursion depth is no concern.
        index_of[node] = low[node] = len(index_of)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index_of:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index_of[target])
        if low[node] == index_of[node]:
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
        if node not in index_of:
            visit(node)
    return sorted(groups)


def folder_graph(graph: Mapping[str, set[str]]) -> dict[str, set[str]]:
    """Folder -> the other folders it imports."""
    folders: dict[str, set[str]] = {}
    for module, targets in graph.items():
        folder = layer_of(module)[1]
        folders.setdefault(folder, set()).update(
            layer_of(target)[1] for target in targets if layer_of(target)[1] != folder
        )
    return folders


def to_dot(graph: Mapping[str, set[str]]) -> str:
    lines = ["digraph detector {", "  rankdir=BT;", "  node [shape=box, fontsize=10];"]
    by_folder: dict[str, list[str]] = {}
    for module in graph:
        by_folder.setdefault(layer_of(module)[1], []).append(module)
    for number, (folder, modules) in enumerate(sorted(by_folder.items())):
        lines.append(f'  subgraph cluster_{number} {{ label="{folder}";')
        lines += [f'    "{module}";' for module in sorted(modules)]
        lines.append("  }")
    lines += [f'  "{module}" -> "{target}";' for module in sorted(graph) for target in sorted(graph[module])]
    lines.append("}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dot", action="store_true", help="print Graphviz DOT")
    parser.add_argument("--folders", action="store_true", help="folder to folder only")
    arguments = parser.parse_args(argv)
    graph = import_graph()
    shown = folder_graph(graph) if arguments.folders else graph
    if arguments.dot:
        print(to_dot(shown) if not arguments.folders else to_dot({f: t for f, t in shown.items()}))
        return 0
    for index, folders in enumerate(LAYERS):
        print(f"layer {index}: {', '.join(folders)}")
    print()
    for module in sorted(shown):
        print(f"{module} -> {', '.join(sorted(shown[module])) or '(nothing)'}")
    circles, upward = cycles(graph), upward_imports(graph)
    print()
    print(f"{len(circles)} circle(s), {len(upward)} import(s) running sideways or back up")
    for group in circles:
        print("circle: " + " <-> ".join(group))
    for module, target in upward:
        print(f"upward: {module} -> {target}")
    return 1 if circles or upward else 0


if __name__ == "__main__":
    sys.exit(main())
