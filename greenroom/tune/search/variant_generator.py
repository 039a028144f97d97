"""Resolve a param_space into concrete configs, as ``ray.tune.search.variant_generator``.

A param_space is a nested dict (lists and tuples allowed) whose leaves are
constants, ``Domain`` objects, or ``{"grid_search": [...]}``. Each variant
takes one value from every grid (the first grid path, in sorted path order,
varies fastest, as in Ray), then samples every Domain; ``sample_from``
functions run last, passes repeating until those that read other
``sample_from`` values can run. ``generate_variants`` yields
``(resolved_vars, config)`` with ``resolved_vars`` keyed by path tuples;
``format_vars`` and ``flatten_resolved_vars`` turn those into Ray's experiment
tag and ``evaluated_params``. Inputs are never mutated.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from typing import Any

from greenroom.tune.search._paths import Path, assign_value, get_value, path_name
from greenroom.tune.search._samplers import as_rng
from greenroom.tune.search.sample import Categorical, Domain, grid_search

__all__ = [
    "RecursiveDependencyError",
    "count_variants",
    "flatten_resolved_vars",
    "format_vars",
    "generate_variants",
    "grid_search",
    "has_unresolved_values",
    "parse_spec_vars",
]

_MAX_RESOLUTION_PASSES = 20


class RecursiveDependencyError(Exception):
    """A sample_from function read a value that is not resolved yet."""


def _try_resolve(value: Any) -> tuple[bool, Any]:
    """(True, value) for a constant; (False, Domain) for a Domain or grid_search dict."""
    if isinstance(value, Domain):
        return False, value
    if isinstance(value, Mapping) and len(value) == 1 and "grid_search" in value:
        return False, Categorical(value["grid_search"]).grid()
    return True, value


def _split(config: Any, prefix: Path = ()) -> tuple[list[tuple[Path, Any]], list[tuple[Path, Domain]]]:
    """Leaves of ``config`` as (path, constant) and (path, Domain), in config order."""
    resolved: list[tuple[Path, Any]] = []
    unresolved: list[tuple[Path, Domain]] = []
    if isinstance(config, Mapping):
        items = list(config.items())
    else:
        items = list(enumerate(config))
    for key, value in items:
        path = prefix + (key,)
        ok, value = _try_resolve(value)
        if not ok:
            unresolved.append((path, value))
        elif isinstance(value, (Mapping, list, tuple)):
            sub_resolved, sub_unresolved = _split(value, path)
            if not sub_resolved and not sub_unresolved:
                resolved.append((path, value))  # keep empty containers as leaves
            resolved += sub_resolved
            unresolved += sub_unresolved
        else:
            resolved.append((path, value))
    return resolved, unresolved


def _sorted_paths(items: list[tuple[Path, Any]]) -> list[tuple[Path, Any]]:
    try:
        return sorted(items, key=lambda item: item[0])
    except TypeError:  # mixed key types at one level: fall back to their text
        return sorted(items, key=lambda item: tuple(str(k) for k in item[0]))


def parse_spec_vars(
    config: Mapping,
) -> tuple[list[tuple[Path, Any]], list[tuple[Path, Domain]], list[tuple[Path, Domain]]]:
    """Split ``config`` into (constants, sampled domains, grid domains), each as (path, value).

    Grid domains are sorted by path (Ray's order); the rest keep config order.
    """
    resolved, unresolved = _split(config)
    domain_vars = [(p, d) for p, d in unresolved if not d.is_grid()]
    grid_vars = _sorted_paths([(p, d) for p, d in unresolved if d.is_grid()])
    return resolved, domain_vars, grid_vars


def has_unresolved_values(config: Mapping) -> bool:
    """Whether ``config`` still holds a Domain or grid_search anywhere."""
    return bool(_split(config)[1])


def _is_resolved_deep(value: Any) -> bool:
    ok, value = _try_resolve(value)
    if not ok:
        return False
    if isinstance(value, (Mapping, list, tuple)):
        return not _split(value)[1]
    return True


class _ConfigView(Mapping):
    """What sample_from functions get: read-only, attribute or key access.

    Reading a value that is still a Domain raises RecursiveDependencyError so
    the resolver can retry later. ``spec.config`` is the config itself (Ray
    passes ``{"config": config}``), unless the config has its own "config" key.
    """

    __slots__ = ("_data", "_root")

    def __init__(self, data: Any, root: bool = False) -> None:
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "_root", root)

    def __getitem__(self, key: Any) -> Any:
        data = self._data
        if key == "config" and self._root and isinstance(data, Mapping) and "config" not in data:
            return self
        value = data[key]
        ok, _ = _try_resolve(value)
        if ok and isinstance(value, Mapping):
            return _ConfigView(value)  # its own values are checked as they are read
        if not ok or not _is_resolved_deep(value):
            raise RecursiveDependencyError(f"{key!r} is not resolved yet: {value!r}")
        return value

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except (KeyError, IndexError, TypeError):
            raise AttributeError(f"config has no key {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError("the spec passed to sample_from is read-only")

    def __contains__(self, key: object) -> bool:
        return key in self._data or (key == "config" and self._root)

    def __iter__(self) -> Iterator:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"spec({self._data!r})"


def _resolve_domain_vars(
    config: Any, domain_vars: list[tuple[Path, Domain]], rng: Any, allow_fail: bool = False
) -> tuple[dict[Path, Any], list[tuple[Path, Domain]]]:
    """Sample ``domain_vars`` into ``config`` in place; return (resolved, still pending).

    Plain domains first, in config order; then sample_from functions, in passes.
    Unless ``allow_fail``, functions that never resolve are an error.
    """
    resolved: dict[Path, Any] = {}
    pending: list[tuple[Path, Domain]] = []
    for path, domain in domain_vars:
        if domain.is_function():
            pending.append((path, domain))
        else:
            value = domain.sample(random_state=rng)
            assign_value(config, path, value)
            resolved[path] = value
    for _ in range(_MAX_RESOLUTION_PASSES):
        if not pending:
            break
        still: list[tuple[Path, Domain]] = []
        for path, domain in pending:
            try:
                value = domain.sample(config=_ConfigView(config, root=True), random_state=rng)
            except RecursiveDependencyError:
                still.append((path, domain))
                continue
            except Exception as exc:
                raise ValueError(
                    f"sample_from function for {path_name(path)!r} raised {type(exc).__name__}: {exc}"
                ) from exc
            assign_value(config, path, value)
            resolved[path] = value
        if len(still) == len(pending):
            pending = still
            break
        pending = still
    if pending and not allow_fail:
        names = ", ".join(repr(path_name(p)) for p, _ in pending)
        raise ValueError(
            f"sample_from values {names} never resolved: they read values that are themselves "
            "unresolved (a cycle, or a key that stays a search domain); break the dependency cycle"
        )
    return resolved, pending


def _grid_product(config: Any, grid_vars: list[tuple[Path, Domain]]) -> Iterator[Any]:
    """Copies of ``config`` with one value per grid path; the first path varies fastest."""
    if not grid_vars:
        yield config
        return
    skeleton = copy.deepcopy(config)
    for path, _ in grid_vars:
        assign_value(skeleton, path, None)  # cheaper deep copies below
    indices = [0] * len(grid_vars)
    while True:
        variant = copy.deepcopy(skeleton)
        for (path, domain), index in zip(grid_vars, indices):
            assign_value(variant, path, copy.deepcopy(domain.categories[index]))
        yield variant
        position = 0
        while position < len(indices):
            indices[position] += 1
            if indices[position] < len(grid_vars[position][1].categories):
                break
            indices[position] = 0
            position += 1
        else:
            return


def generate_variants(
    config: Mapping, constant_grid_search: bool = False, random_state: Any = None
) -> Iterator[tuple[dict[Path, Any], dict]]:
    """Yield ``(resolved_vars, resolved_config)`` for every grid combination of ``config``.

    Args:
        config: the param_space (not mutated).
        constant_grid_search: sample random values once and keep them for every
            grid combination (Ray's option), instead of resampling per combination.
        random_state: seed or generator, see ``sample.as_rng``.
    """
    rng = as_rng(random_state)
    yield from _generate(config, constant_grid_search, rng)


def _generate(config: Any, constant_grid_search: bool, rng: Any) -> Iterator[tuple[dict[Path, Any], Any]]:
    config = copy.deepcopy(config)
    _, domain_vars, grid_vars = parse_spec_vars(config)
    if not domain_vars and not grid_vars:
        yield {}, config
        return
    to_resolve = domain_vars
    constant: dict[Path, Any] = {}
    if constant_grid_search:
        constant, to_resolve = _resolve_domain_vars(config, domain_vars, rng, allow_fail=True)
    for variant in _grid_product(config, grid_vars):
        resolved = dict(constant)
        sampled, _ = _resolve_domain_vars(variant, to_resolve, rng)
        resolved.update(sampled)
        # Grid values may themselves hold domains or grids: resolve those too.
        for nested, final in _generate(variant, constant_grid_search, rng):
            out = dict(resolved)
            for path, _ in grid_vars:
                out[path] = get_value(final, path)
            out.update(nested)
            yield out, final


def format_vars(resolved_vars: Mapping[Path, Any]) -> str:
    """Ray's tag text: ``"lr=0.0100,momentum=0.9000"``, last path key only, sorted by path."""
    return ",".join(
        f"{_clean(path[-1])}={_clean(value)}" for path, value in _sorted_paths(list(resolved_vars.items()))
    )


def flatten_resolved_vars(resolved_vars: Mapping[Path, Any]) -> dict[str, Any]:
    """``{("a", "b"): v}`` to ``{"a/b": v}`` (Ray's evaluated_params)."""
    return {path_name(path): value for path, value in resolved_vars.items()}


def _clean(value: Any) -> str:
    """Floats to 4 decimals; other text stripped to ``[a-zA-Z0-9_-]`` for directory names."""
    if isinstance(value, float):
        return f"{value:.4f}"
    return re.sub(r"[^a-zA-Z0-9_-]+", "_", str(value)).strip("_")


def count_variants(config: Mapping, num_samples: int = 1, points: list[Mapping] | None = None) -> int:
    """How many configs ``num_samples`` of ``config`` give, after ``points`` (Ray's count)."""

    def grid_size(spec: Mapping) -> int:
        size = 1
        for _, domain in parse_spec_vars(spec)[2]:
            size *= len(domain.categories)
        return size

    total = 0
    for point in points or []:
        total += grid_size(apply_point(config, point, check=False))
    return total + grid_size(config) * max(0, num_samples - len(points or []))


def apply_point(config: Mapping, point: Mapping, check: bool = True, index: int = 0) -> dict:
    """A copy of ``config`` with the values of ``point`` (a preset) put in place.

    Raises ValueError when ``point`` names a key that ``config`` does not have.
    """
    config = copy.deepcopy(dict(config))
    for path, value in _split(point)[0]:
        try:
            get_value(config, path)
        except (KeyError, IndexError, TypeError):
            if check:
                raise ValueError(
                    f"points_to_evaluate[{index}] sets {path_name(path)!r}, which param_space does not "
                    f"define; add it to param_space or remove it from the point"
                ) from None
            continue
        assign_value(config, path, copy.deepcopy(value))
    return config


def point_warnings(config: Mapping, point: Mapping) -> list[str]:
    """Messages for preset values outside their domain (Ray logs these, then runs them)."""
    messages = []
    for path, value in _split(point)[0]:
        try:
            target = get_value(config, path)
        except (KeyError, IndexError, TypeError):
            continue
        ok, domain = _try_resolve(target)
        if not ok and not domain.is_valid(value):
            messages.append(f"preset value {value!r} for {path_name(path)!r} is outside {domain.domain_str}")
    return messages
