"""Paths into nested configs: get, assign, flatten, unflatten, merge.

A path is a tuple of keys, one per level: dict keys, or int indices into
lists and tuples (``("layers", 0, "units")``). Flat names join a path with
"/" as Ray does (``"layers/0/units"``). Nothing here mutates its inputs
except ``assign_value``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

__all__ = [
    "assign_value",
    "deep_merge",
    "flatten_dict",
    "get_value",
    "path_name",
    "unflatten_paths",
]

Path = tuple[Any, ...]


def path_name(path: Path) -> str:
    """The "/"-joined name of ``path``, as used in evaluated_params and labels."""
    return "/".join(str(part) for part in path)


def get_value(config: Any, path: Path) -> Any:
    """``config[p0][p1]...`` for ``path``; KeyError/IndexError when missing."""
    for key in path:
        config = config[key]
    return config


def assign_value(config: Any, path: Path, value: Any) -> None:
    """Set ``value`` at ``path`` in place; tuples on the way are rebuilt."""
    parent, parent_key = None, None
    node = config
    for key in path[:-1]:
        parent, parent_key = node, key
        node = node[key]
    key = path[-1]
    if isinstance(node, tuple):
        if parent is None:
            raise ValueError(f"cannot assign into a top-level tuple at {path!r}")
        parent[parent_key] = node[:key] + (value,) + node[key + 1 :]
    else:
        node[key] = value


def flatten_dict(config: Mapping, prefix: str = "", delimiter: str = "/") -> dict[str, Any]:
    """Nested dicts to one level with "/"-joined keys (lists are kept whole, as Ray)."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{delimiter}{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            flat.update(flatten_dict(value, name, delimiter))
        else:
            flat[name] = value
    return flat


def unflatten_paths(values: Mapping[Path, Any]) -> dict:
    """``{("a", "b"): 1}`` to ``{"a": {"b": 1}}``; int keys stay ints for list merges."""
    nested: dict = {}
    for path, value in values.items():
        node = nested
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return nested


def deep_merge(base: Any, update: Any) -> Any:
    """A copy of ``base`` with ``update`` merged in, dicts recursively.

    A dict with int keys merged into a list (or tuple) sets those indices,
    so suggestions built from paths can fill lists in a param_space.
    """
    if isinstance(base, Mapping) and isinstance(update, Mapping):
        merged = dict(base)
        for key, value in update.items():
            merged[key] = deep_merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    if (
        isinstance(base, (list, tuple))
        and isinstance(update, Mapping)
        and all(isinstance(k, int) and -len(base) <= k < len(base) for k in update)
    ):
        items = list(base)
        for index, value in update.items():
            items[index] = deep_merge(items[index], value)
        return type(base)(items) if isinstance(base, tuple) else items
    return copy.deepcopy(update)
