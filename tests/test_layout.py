"""The layout promised by docs/development.md: the core imports no plugin, names no plugin in its
logic, and no module takes part in an import cycle — counting imports inside functions, since a
lazy import still ties two modules together. Read from the source with `ast`, nothing imported."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: core/ is the package ``memplug``, plugins/ is ``memplug.plugins``.
TREES = ((ROOT / "core", "memplug"), (ROOT / "plugins", "memplug.plugins"))
#: The core's size bound (the small-core issue: ~4 000 lines, at most 4 500): the memory equation,
#: solvers, contracts, registry, the fit loop and results, the dataset protocol and the CLI app.
CORE_LINE_LIMIT = 4_500


def modules() -> dict[str, Path]:
    out = {}
    for base, prefix in TREES:
        for path in sorted(base.rglob("*.py")):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([prefix, *parts])] = path
    return out


def import_graph(mods: dict[str, Path]) -> dict[str, set[str]]:
    """module → the project modules it imports anywhere in its source (``from pkg import sub``
    counts as importing ``pkg.sub`` when that is a module)."""
    edges: dict[str, set[str]] = defaultdict(set)
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                targets = [
                    f"{module}.{a.name}" if f"{module}.{a.name}" in mods else module
                    for a in node.names
                ]
            else:
                continue
            edges[name].update(t for t in targets if t in mods and t != name)
    return edges


def cycles(edges: dict[str, set[str]], nodes) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    group = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        group.append(w)
                        if w == v:
                            break
                    if len(group) > 1:
                        groups.append(sorted(group))
    return groups


def test_the_core_imports_no_plugin():
    mods = modules()
    edges = import_graph(mods)
    core = [m for m in mods if not m.startswith("memplug.plugins")]
    assert core and any(m.startswith("memplug.plugins.") for m in mods)
    bad = sorted(f"{a} -> {b}" for a in core for b in edges[a] if b.startswith("memplug.plugins"))
    assert bad == []


def test_no_import_cycles_in_core_or_plugins():
    mods = modules()
    assert cycles(import_graph(mods), mods) == []


def test_the_cycle_finder_finds_a_cycle():
    """The check above can fail: a two-module and a three-module loop are both found."""
    edges = defaultdict(
        set, {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c"}, "f": {"a"}}
    )
    assert sorted(cycles(edges, ["f", "a", "b", "c", "d", "e"])) == [["a", "b"], ["c", "d", "e"]]


def test_core_size_does_not_grow():
    mods = modules()
    lines = sum(
        len(p.read_text(encoding="utf-8").splitlines())
        for m, p in mods.items()
        if not m.startswith("memplug.plugins")
    )
    assert lines <= CORE_LINE_LIMIT, f"core/ has {lines} lines (limit {CORE_LINE_LIMIT})"
