"""The architecture, checked from source: no import cycles, layers import only downward, modules stay small.

Every module of the ``greenroom`` package is parsed with ``ast``; nothing is
imported or run. An edge ``a -> b`` means module ``a`` imports module ``b``
anywhere in its body (a function-level import is still a dependency, and the
usual way a cycle is hidden), except under ``if TYPE_CHECKING:``. Relative
imports are resolved; ``from pkg import name`` is an edge to ``pkg.name`` when
that is a submodule, else to ``pkg``.

The first half of this file is the analysis, as small pure functions; the
tests of it on tiny synthetic packages come next, so the checker can be
trusted; the checks of the real package come last.
"""

from __future__ import annotations

import ast
import functools
import pathlib
import textwrap
from typing import NamedTuple

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = "greenroom"

MAX_LINES = 600
MAX_LINES_OF = {"greenroom.runtime.node": 400}

# Top-level modules that import nothing of greenroom, so any layer may import them.
LEAVES = {"greenroom.exceptions", "greenroom._config"}
# The package face, and ``greenroom.actor`` (Ray's ``ray.actor`` path), a
# re-export shim over actors and runtime that sits above them like the face.
FACE = {"greenroom", "greenroom.actor", "greenroom.runtime_context"}

# Per layer: ("only", patterns it may import) or ("not", layers it may not import).
# A pattern is a module name, or ``name*`` for that module and everything under it.
RULES: dict[str, tuple[str, frozenset[str]]] = {
    # scheduler/errors.py defines its own Unschedulable(ValueError): today the
    # scheduler imports nothing of greenroom outside itself at all.
    "scheduler": ("only", frozenset({"greenroom.scheduler*", "greenroom.exceptions"})),
    "runtime": ("not", frozenset({"actors", "util", "tune", "train", "dag", "cli", "face", "dashboard", "backends"})),
    "actors": ("not", frozenset({"tune", "train", "util", "dag", "dashboard", "backends"})),
    # Another engine for the same API (greenroom.backends.ray): reached only through the hook the
    # package face registers (runtime/state.py register_backend); it builds on the layers below.
    "backends": ("only", frozenset({
        "greenroom.backends*", "greenroom.runtime*", "greenroom.actors*", "greenroom.util*",
        "greenroom.scheduler*", "greenroom.exceptions", "greenroom._config",
    })),  # fmt: skip
    "tune": ("only", frozenset({
        "greenroom", "greenroom.exceptions", "greenroom._config", "greenroom.util*",
        "greenroom.actors*", "greenroom.tune*", "greenroom.train*",
    })),  # fmt: skip
    # The DAG API sits above actors, beside tune: the layers below reach it only
    # through the builder it registers (runtime/binding.py).
    "dag": ("only", frozenset({
        "greenroom.dag*", "greenroom.actors*", "greenroom.runtime*", "greenroom.exceptions", "greenroom._config",
    })),  # fmt: skip
    "train": ("only", frozenset({
        "greenroom", "greenroom.exceptions", "greenroom._config", "greenroom.util*",
        "greenroom.actors*", "greenroom.tune*", "greenroom.train*",
    })),  # fmt: skip
    # The dashboard reads what it shows through the public face and util's state API only.
    "dashboard": ("only", frozenset({
        "greenroom", "greenroom.dashboard*", "greenroom.util*", "greenroom.exceptions", "greenroom._config",
    })),  # fmt: skip
    # ray.air's older spellings: a face over train, nothing of its own below it.
    "air": ("only", frozenset({"greenroom.air*", "greenroom.train*", "greenroom.tune*"})),
    "leaf": ("only", frozenset()),
}


# -- the analysis ---------------------------------------------------------------------------------------


class Module(NamedTuple):
    name: str  # dotted, "greenroom.runtime.node"; a package is named by its __init__'s package
    path: str  # relative to the project root, for messages
    source: str
    is_package: bool  # an __init__.py


def module_name(path: str) -> tuple[str, bool]:
    """("greenroom.runtime.node", False) for "greenroom/runtime/node.py"; packages by their folder."""
    parts = pathlib.PurePosixPath(path).with_suffix("").parts
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def modules_from(sources: dict[str, str]) -> dict[str, Module]:
    """Modules from {relative path: source}."""
    out = {}
    for path, source in sources.items():
        name, is_package = module_name(path)
        out[name] = Module(name, path, source, is_package)
    return out


def load_package(root: pathlib.Path, package: str = PACKAGE) -> dict[str, Module]:
    """Every module of ``package`` under ``root``, read from disk (not imported)."""
    files = sorted((root / package).rglob("*.py"))
    return modules_from({p.relative_to(root).as_posix(): p.read_text() for p in files})


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST):
    """Import statements anywhere in ``tree``, skipping the bodies of ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
        else:
            stack.extend(ast.iter_child_nodes(node))


def _package_of(module: Module) -> str:
    return module.name if module.is_package else module.name.rpartition(".")[0]


def _resolve_from(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    parts = _package_of(module).split(".")
    if node.level - 1 >= len(parts):
        raise ValueError(f"{module.path}:{node.lineno}: relative import beyond the top-level package")
    base = parts[: len(parts) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _nearest_module(name: str, modules: dict[str, Module]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: Module, modules: dict[str, Module]) -> dict[str, list[int]]:
    """{imported module of ``modules``: the lines importing it}, without ``module`` itself."""
    found: dict[str, list[int]] = {}
    for node in _import_nodes(ast.parse(module.source, module.path)):
        if isinstance(node, ast.Import):
            targets = [_nearest_module(alias.name, modules) for alias in node.names]
        else:
            base = _resolve_from(module, node)
            subs = [f"{base}.{alias.name}" for alias in node.names]
            targets = [sub if sub in modules else _nearest_module(base, modules) for sub in subs]
        for target in targets:
            if target is not None and target != module.name:
                found.setdefault(target, []).append(node.lineno)
    return {target: sorted(set(lines)) for target, lines in found.items()}


Graph = dict[str, dict[str, list[int]]]  # module -> {imported module: lines}


def import_graph(modules: dict[str, Module]) -> Graph:
    return {name: imports_of(module, modules) for name, module in modules.items()}


def _reexport(modules: dict[str, Module], source: str, target: str) -> bool:
    """A package __init__ importing its own submodules re-exports them; that is not a dependency cycle."""
    return modules[source].is_package and target.startswith(source + ".")


def _reachable(edges: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in edges[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def find_cycles(graph: Graph, modules: dict[str, Module]) -> list[list[str]]:
    """Strongly connected groups of modules (each can reach every other by imports), members sorted."""
    edges = {m: {t for t in ts if t in graph and not _reexport(modules, m, t)} for m, ts in graph.items()}
    reach = {m: _reachable(edges, m) for m in edges}
    groups, placed = [], set()
    for m in sorted(edges):
        if m not in placed and m in reach[m]:
            group = sorted(n for n in reach[m] if m in reach[n])
            placed.update(group)
            groups.append(group)
    return groups


def edges_within(graph: Graph, modules: dict[str, Module], group: list[str]) -> list[str]:
    """The imports that tie ``group`` together, as "a -> b (path:line,line)"."""
    return [
        f"{source} -> {target} ({modules[source].path}:{','.join(map(str, lines))})"
        for source in group
        for target, lines in sorted(graph[source].items())
        if target in group and not _reexport(modules, source, target)
    ]


def layer_of(module: str) -> str:
    """The first package under greenroom ("runtime", "tune", ...); "face" or "leaf" for top-level modules."""
    if module in FACE:
        return "face"
    if module in LEAVES:
        return "leaf"
    return module.split(".")[1]


def _matches(module: str, pattern: str) -> bool:
    if pattern.endswith("*"):
        return module == pattern[:-1] or module.startswith(pattern[:-1] + ".")
    return module == pattern


def allowed(source: str, target: str) -> bool:
    """May ``source`` import ``target`` by the layer rules?"""
    src, dst = layer_of(source), layer_of(target)
    if src == dst and src not in ("face", "leaf"):
        return True
    kind, what = RULES.get(src, ("not", frozenset()))
    if kind == "only":
        return any(_matches(target, p) for p in what)
    return dst == "leaf" or dst not in what


def forbidden_edges(graph: Graph, modules: dict[str, Module]) -> list[str]:
    """Each edge that breaks a layer rule, as "a -> b (path:line,line)"."""
    return [
        f"{source} -> {target} ({modules[source].path}:{','.join(map(str, lines))})"
        for source in sorted(graph)
        for target, lines in sorted(graph[source].items())
        if not allowed(source, target)
    ]


def oversized(modules: dict[str, Module]) -> list[str]:
    """Modules over their line limit, as "name: N lines (limit L)"."""
    out = []
    for name in sorted(modules):
        lines = len(modules[name].source.splitlines())
        limit = min(MAX_LINES, MAX_LINES_OF.get(name, MAX_LINES))
        if lines > limit:
            out.append(f"{name}: {lines} lines (limit {limit})")
    return out


# -- the analysis, checked on tiny packages -------------------------------------------------------------


def _graph(sources: dict[str, str]) -> tuple[Graph, dict[str, Module]]:
    modules = modules_from({path: textwrap.dedent(source) for path, source in sources.items()})
    return import_graph(modules), modules


def test_edges_resolve_relative_and_submodule_imports():
    """Relative imports resolve; ``from pkg import sub`` is an edge to the submodule, other names to pkg."""
    graph, _ = _graph({
        "greenroom/__init__.py": "",
        "greenroom/exceptions.py": "",
        "greenroom/runtime/__init__.py": "from . import node",
        "greenroom/runtime/node.py": """\
            from .. import exceptions
            from .wire import X
            from greenroom.runtime import wire
        """,
        "greenroom/runtime/wire.py": """\
            import greenroom.scheduler.queue
            import os, greenroom.nothere
        """,
        "greenroom/scheduler/__init__.py": "",
        "greenroom/scheduler/queue.py": """\
            def f():
                from ..runtime.wire import X
        """,
    })  # fmt: skip
    assert graph["greenroom.runtime"] == {"greenroom.runtime.node": [1]}
    assert graph["greenroom.runtime.node"] == {"greenroom.exceptions": [1], "greenroom.runtime.wire": [2, 3]}
    assert graph["greenroom.runtime.wire"] == {"greenroom.scheduler.queue": [1], "greenroom": [2]}
    assert graph["greenroom.scheduler.queue"] == {"greenroom.runtime.wire": [2]}


def test_type_checking_imports_are_ignored():
    """Imports under ``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``) are no edge; the else branch is."""
    graph, _ = _graph({
        "greenroom/__init__.py": "",
        "greenroom/a.py": """\
            import typing
            if typing.TYPE_CHECKING:
                from greenroom import b
            else:
                from greenroom import c
        """,
        "greenroom/b.py": """\
            from typing import TYPE_CHECKING
            if TYPE_CHECKING:
                import greenroom.a
        """,
        "greenroom/c.py": "",
    })  # fmt: skip
    assert graph["greenroom.a"] == {"greenroom.c": [5]}
    assert graph["greenroom.b"] == {}


def test_a_cycle_is_found_with_the_imports_that_make_it():
    """a -> b -> c -> a is reported once, members sorted, with its edges; the tail d is not in it."""
    graph, modules = _graph({
        "greenroom/__init__.py": "",
        "greenroom/runtime/a.py": "from greenroom.runtime import b",
        "greenroom/runtime/b.py": """\
            def f():
                import greenroom.runtime.c
        """,
        "greenroom/runtime/c.py": """\
            from greenroom.runtime.a import X
            from greenroom.runtime import d
        """,
        "greenroom/runtime/d.py": "",
    })  # fmt: skip
    cycles = find_cycles(graph, modules)
    assert cycles == [["greenroom.runtime.a", "greenroom.runtime.b", "greenroom.runtime.c"]]
    assert edges_within(graph, modules, cycles[0]) == [
        "greenroom.runtime.a -> greenroom.runtime.b (greenroom/runtime/a.py:1)",
        "greenroom.runtime.b -> greenroom.runtime.c (greenroom/runtime/b.py:2)",
        "greenroom.runtime.c -> greenroom.runtime.a (greenroom/runtime/c.py:1)",
    ]


def test_reexports_from_a_package_init_are_no_cycle():
    """An __init__ importing its own submodules, which import the package, is no cycle; anything else is."""
    graph, modules = _graph({
        "greenroom/__init__.py": "from greenroom.tune import run",
        "greenroom/tune/__init__.py": "from greenroom.tune.run import run",
        "greenroom/tune/run.py": """\
            import greenroom as ray
            from greenroom.tune import Thing
        """,
        "greenroom/util/__init__.py": "from greenroom.runtime.options import Strategy",
        "greenroom/runtime/options.py": "from greenroom.util import placement_group",
        "greenroom/runtime/worker.py": "from greenroom.runtime import actor_worker",
        "greenroom/runtime/actor_worker.py": "from greenroom.runtime import worker",
    })  # fmt: skip
    assert find_cycles(graph, modules) == [
        ["greenroom.runtime.actor_worker", "greenroom.runtime.worker"],
        ["greenroom.runtime.options", "greenroom.util"],
    ]


def test_forbidden_edges_are_found():
    """Each rule catches its breach, named with file and lines; leaves are fine from any layer."""
    graph, modules = _graph({
        "greenroom/__init__.py": "",
        "greenroom/exceptions.py": "",
        "greenroom/_config.py": "from greenroom import exceptions",
        "greenroom/actor.py": "",
        "greenroom/scheduler/queue.py": "from greenroom import exceptions, _config",
        "greenroom/runtime/options.py": """\
            from greenroom import exceptions, _config
            from greenroom.scheduler import queue
            def f():
                from greenroom.util import strategies
                import greenroom
                import greenroom.actor
            from greenroom.util.strategies import X
        """,
        "greenroom/actors/actor_class.py": """\
            from greenroom.runtime import options
            from greenroom.tune import run
        """,
        "greenroom/util/strategies.py": "from greenroom.runtime import options",
        "greenroom/tune/run.py": """\
            import greenroom as ray
            from greenroom import exceptions, _config
            from greenroom.util import strategies
            from greenroom.actors import actor_class
            from greenroom.scheduler.queue import X
            from greenroom.runtime import options
        """,
    })  # fmt: skip
    assert forbidden_edges(graph, modules) == [
        "greenroom._config -> greenroom.exceptions (greenroom/_config.py:1)",
        "greenroom.actors.actor_class -> greenroom.tune.run (greenroom/actors/actor_class.py:2)",
        "greenroom.runtime.options -> greenroom (greenroom/runtime/options.py:5)",
        "greenroom.runtime.options -> greenroom.actor (greenroom/runtime/options.py:6)",
        "greenroom.runtime.options -> greenroom.util.strategies (greenroom/runtime/options.py:4,7)",
        "greenroom.scheduler.queue -> greenroom._config (greenroom/scheduler/queue.py:1)",
        "greenroom.tune.run -> greenroom.runtime.options (greenroom/tune/run.py:6)",
        "greenroom.tune.run -> greenroom.scheduler.queue (greenroom/tune/run.py:5)",
    ]


def test_a_clean_package_passes():
    """A package whose layers point one way, with re-exports in its inits, has no finding."""
    graph, modules = _graph({
        "greenroom/__init__.py": """\
            from greenroom import tune, util
            from greenroom.runtime.api import get
        """,
        "greenroom/exceptions.py": "",
        "greenroom/_config.py": "",
        "greenroom/scheduler/__init__.py": "from .queue import Scheduler",
        "greenroom/scheduler/queue.py": "from greenroom.exceptions import RayError",
        "greenroom/runtime/api.py": """\
            from greenroom import _config, exceptions
            from greenroom.scheduler import Scheduler
        """,
        "greenroom/actors/handle.py": "from greenroom.runtime import api",
        "greenroom/util/__init__.py": "from greenroom.util.pg import placement_group",
        "greenroom/util/pg.py": """\
            from greenroom.runtime.api import get
            from greenroom.actors import handle
        """,
        "greenroom/tune/__init__.py": "from greenroom.tune.tune import run",
        "greenroom/tune/tune.py": """\
            import greenroom as ray
            from greenroom.util import pg
            from greenroom import tune
        """,
    })  # fmt: skip
    assert find_cycles(graph, modules) == []
    assert forbidden_edges(graph, modules) == []
    assert oversized(modules) == []


def test_oversized_modules_are_found():
    """Over 600 lines anywhere, or over 400 for runtime/node.py, is reported with the count."""
    modules = modules_from({
        "greenroom/runtime/node.py": "x = 1\n" * 401,
        "greenroom/tune/big.py": "x = 1\n" * 601,
        "greenroom/tune/fine.py": "x = 1\n" * 600,
    })  # fmt: skip
    assert oversized(modules) == [
        "greenroom.runtime.node: 401 lines (limit 400)",
        "greenroom.tune.big: 601 lines (limit 600)",
    ]


# -- the real package -----------------------------------------------------------------------------------


@functools.cache
def _package() -> tuple[Graph, dict[str, Module]]:
    modules = load_package(ROOT)
    return import_graph(modules), modules


def test_no_import_cycles():
    """No two greenroom modules import each other, directly or through others."""
    graph, modules = _package()
    cycles = find_cycles(graph, modules)
    assert not cycles, (
        f"{len(cycles)} import cycle(s) among greenroom modules; break each by moving what both need "
        "down a layer, or by passing it in:\n"
        + "\n".join(
            f"  {' '.join(group)}, by:\n" + "\n".join(f"    {e}" for e in edges_within(graph, modules, group))
            for group in cycles
        )
    )


def test_layers_import_only_downward():
    """train -> tune -> actors -> runtime -> scheduler: no module imports a layer above its own."""
    graph, modules = _package()
    bad = forbidden_edges(graph, modules)
    assert not bad, f"{len(bad)} import(s) against the layering (see RULES in {__name__}):\n" + "\n".join(
        f"  {b}" for b in bad
    )


def test_modules_stay_small():
    """No module over 600 lines; runtime/node.py at most 400."""
    _, modules = _package()
    big = oversized(modules)
    assert not big, "modules over their line limit; split them by concept:\n" + "\n".join(
        f"  {b}" for b in big
    )
