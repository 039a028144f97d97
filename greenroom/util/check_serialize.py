"""Ray's ``ray.util.inspect_serializability``: which part of an object keeps it from pickling."""

from __future__ import annotations

import inspect
import sys
from typing import Any

from greenroom.runtime import serialization

__all__ = ["FailureTuple", "inspect_serializability"]

RULE = "=" * 60


class FailureTuple:
    """One object that does not pickle: ``obj``, the ``name`` it is reached by, and its ``parent``."""

    def __init__(self, obj: Any, name: str, parent: Any) -> None:
        self.obj = obj
        self.name = name
        self.parent = parent

    def __repr__(self) -> str:
        return f"FailTuple({self.name} [obj={self.obj!r:.200}, parent={self.parent!r:.200}])"


def inspect_serializability(base_obj: Any, name: str | None = None, depth: int = 3,
                            print_file: Any = None) -> tuple[bool, set[FailureTuple]]:  # fmt: skip
    """Say whether ``base_obj`` pickles as greenroom sends it and, if not, which of its parts do not.

    A function's parts are the globals and closure variables it uses; a class's, its methods and
    attributes; any other object's, its attributes, items or elements. Parts that fail are walked
    ``depth`` levels down, and the deepest ones found are reported (printed to ``print_file``,
    standard output by default) and returned.

    Returns:
        (True, set()) if it pickles; else (False, the FailureTuples of the parts to change).
    """
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 0:
        raise ValueError(f"inspect_serializability(depth={depth!r}): expected a whole number >= 0")
    out = print_file if print_file is not None else sys.stdout
    name = name or getattr(base_obj, "__name__", None) or type(base_obj).__name__
    print(RULE, file=out)
    print(f"Checking serializability of {name!r}: {base_obj!r:.200}", file=out)
    print(RULE, file=out)
    error = _pickling_error(base_obj)
    if error is None:
        print(f"{name!r} pickles.", file=out)
        return True, set()
    failures: set[FailureTuple] = set()
    if not _walk(base_obj, name, depth, failures, out, level=0, error=error):
        failures.add(FailureTuple(base_obj, name, None))
    print(RULE, file=out)
    print("These do not pickle; create them inside the function, task or actor that uses them, or "
          "make them picklable (greenroom.util.register_serializer):", file=out)  # fmt: skip
    for failure in sorted(failures, key=lambda f: f.name):
        print(f"    {failure!r}", file=out)
    print(RULE, file=out)
    return False, failures


def _pickling_error(obj: Any) -> BaseException | None:
    try:
        serialization.dumps(obj)
    except Exception as e:  # noqa: BLE001 -- whatever pickling raises is the answer
        return e
    return None


def _walk(obj: Any, name: str, depth: int, failures: set, out: Any, level: int, error: BaseException) -> bool:
    """Report the parts of ``obj`` (which fails with ``error``) that fail; True if any did."""
    indent = "    " * level
    print(f"{indent}!!! {name}: {type(error).__name__}: {error}", file=out)
    if depth <= 0:
        return False
    found = False
    for part_name, part in _parts(obj):
        if inspect.isbuiltin(part) and not inspect.isclass(obj):  # a C method bound to a part seen already
            continue
        part_error = _pickling_error(part)
        if part_error is None:
            continue
        found = True
        label = f"{name}.{part_name}" if part_name[0] != "[" else f"{name}{part_name}"
        if not _walk(part, label, depth - 1, failures, out, level + 1, part_error):
            failures.add(FailureTuple(part, label, obj))
    return found


def _parts(obj: Any) -> list[tuple[str, Any]]:
    """What ``obj`` carries that pickling it pickles too, by name."""
    if inspect.isfunction(obj):
        closure = inspect.getclosurevars(obj)
        return [*closure.nonlocals.items(), *closure.globals.items()]
    if inspect.ismethod(obj):
        return [("__self__", obj.__self__), ("__func__", obj.__func__)]
    if isinstance(obj, dict):
        return [(f"[{key!r}]", value) for key, value in obj.items()]
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [(f"[{i}]", item) for i, item in enumerate(obj)]
    if inspect.isclass(obj):
        return [(k, v) for k, v in vars(obj).items() if not (k.startswith("__") and k.endswith("__"))]
    try:
        return list(vars(obj).items())
    except TypeError:  # no __dict__ (a C object): nothing to look into
        return []
