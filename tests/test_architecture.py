"""The import arrows of docs/ARCHITECTURE.md, read from the source: capture imports nothing of ours,
inference nothing but itself, training only inference, only the CLI imports training, and the
sub-packages of service import each other along one route, without cycles."""

from __future__ import annotations

import ast
from collections import defaultdict

from tests.conftest import ROOT

OURS = ("capture", "inference", "service", "training")
# Who may import whom (besides itself); capture and inference are open to every package above them.
ALLOWED: dict[str, set[str]] = {
    "capture": set(),
    "inference": set(),
    "training": {"inference"},
    "service.outputs": {"capture", "inference"},
    "service.engine": {"capture", "inference", "service.outputs"},
    "service.config": {"capture", "inference", "service.engine"},
    "service.runtime": {"capture", "inference", "service.config", "service.engine", "service.outputs"},
    "service.offline": {"capture", "inference", "service.engine", "service.outputs"},
    "service.web": {
        "capture", "inference", "service.config", "service.engine", "service.offline", "service.outputs",
    },
    "service.app": {
        "capture", "inference", "service.config", "service.engine", "service.offline", "service.outputs",
        "service.runtime", "service.web",
    },
    "service.cli": {
        "capture", "inference", "service.app", "service.config", "service.engine", "service.offline",
        "service.outputs", "service.runtime", "service.web", "training",
    },
    "service": {"service.cli"},  # __main__
}  # fmt: skip


def _unit(module: str) -> str:
    """The package a module belongs to for these rules: a top-level package, or a sub-package of service."""
    parts = module.split(".")
    if parts[0] != "service":
        return parts[0]
    if len(parts) == 1 or parts[1] in ("__main__", "__init__"):
        return "service"
    return f"service.{parts[1]}"


def _imports() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for package in OURS:
        for path in (ROOT / package).rglob("*.py"):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            src = _unit(module)
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module]
                elif isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                else:
                    continue
                for name in names:
                    if name.split(".")[0] in OURS and _unit(name) != src:
                        edges[src].add(_unit(name))
    return edges


def test_imports_follow_the_arrows() -> None:
    edges = _imports()
    assert set(edges) <= set(ALLOWED), f"a package this test does not know: {set(edges) - set(ALLOWED)}"
    wrong = {src: sorted(dst - ALLOWED[src]) for src, dst in edges.items() if dst - ALLOWED[src]}
    assert not wrong, f"imports against the arrows: {wrong}"


def test_no_cycles_between_packages() -> None:
    edges = _imports()

    def reachable(start: str) -> set[str]:
        seen: set[str] = set()
        todo = [start]
        while todo:
            for nxt in edges.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    assert not [unit for unit in edges if unit in reachable(unit)]
