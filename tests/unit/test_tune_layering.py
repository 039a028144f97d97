"""Tune sits above the actors layer: it imports the public API, util and actors, never the runtime
(and train, for the Train integration, as tests/test_layering.py allows)."""

from __future__ import annotations

import ast
from pathlib import Path

import greenroom.tune

ALLOWED = (
    "greenroom.tune", "greenroom.exceptions", "greenroom._config", "greenroom.util", "greenroom.actors",
    "greenroom.train",
)  # fmt: skip


def greenroom_imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module] if node.module != "greenroom" else []
        elif isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names if alias.name != "greenroom"]
        else:
            continue
        names += [m for m in modules if m.split(".")[0] == "greenroom"]
    return names


def test_tune_imports_only_the_layers_below_it_that_it_may():
    """No module of greenroom.tune imports greenroom.runtime, greenroom.scheduler or anything unlisted."""
    root = Path(greenroom.tune.__file__).parent
    bad = {
        f"{path.relative_to(root)}: {name}"
        for path in root.rglob("*.py")
        for name in greenroom_imports(path)
        if not any(name == ok or name.startswith(ok + ".") for ok in ALLOWED)
    }
    assert not bad, sorted(bad)
