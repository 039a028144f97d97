"""Splitting a trainer's ``datasets`` across its workers, as pure logic.

A dataset here is a plain sequence: a list, tuple, range, numpy array, or
anything else with ``len()`` and slicing (a pandas DataFrame is split by
``.iloc``). Each worker gets one contiguous slice, in rank order, and slice
sizes differ by at most one, so nothing is dropped and no item is seen
twice: ``np.array_split``'s rule. ``train.get_dataset_shard(name)`` returns
the calling worker's slice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def bounds(length: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous [start, stop) ranges covering ``range(length)``, sizes within one
    of each other, the larger ones first."""
    if parts < 1:
        raise ValueError(f"parts={parts!r}: expected at least 1")
    size, extra = divmod(length, parts)
    out, start = [], 0
    for i in range(parts):
        stop = start + size + (1 if i < extra else 0)
        out.append((start, stop))
        start = stop
    return out


def _slicer(data: Any) -> Any:
    iloc = getattr(data, "iloc", None)  # pandas: split rows by position, not by label
    return iloc if iloc is not None else data


def split(data: Any, parts: int, name: str = "dataset") -> list[Any]:
    """``data`` cut into ``parts`` contiguous shards (see the module docstring).

    Raises:
        TypeError: ``data`` has no ``len()`` or cannot be sliced; the message names it.
    """
    try:
        length = len(data)
        cut = _slicer(data)
        shards = [cut[start:stop] for start, stop in bounds(length, parts)]
    except TypeError:
        raise TypeError(
            f"datasets[{name!r}] is a {type(data).__name__}, which greenroom cannot split across workers: "
            "give a list, tuple, numpy array or DataFrame (anything with len() and slicing)"
        ) from None
    return shards


def split_all(datasets: Mapping[str, Any] | None, parts: int) -> list[dict[str, Any]]:
    """For each rank, its shard of every dataset: ``[{name: shard}, ...]``."""
    if datasets is not None and not isinstance(datasets, Mapping):
        raise TypeError(f"datasets={datasets!r:.100}: expected a dict of name -> dataset")
    per_rank: list[dict[str, Any]] = [{} for _ in range(parts)]
    for name, data in (datasets or {}).items():
        if not isinstance(name, str):
            raise TypeError(f"datasets key {name!r}: expected a string name")
        for rank, shard in enumerate(split(data, parts, name)):
            per_rank[rank][name] = shard
    return per_rank
