"""Ray's ``ray.util.helpers``: iterate over results as they finish, with bounded work in flight.

``as_completed`` turns a list of ObjectRefs into an iterator of results, a
batch at a time as ``wait()`` reports them ready; ``map_unordered`` submits a
remote function over items while keeping at most ``backpressure_size`` tasks
pending, the pattern Ray's documentation calls "limit pending tasks".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from greenroom.runtime.api import get, wait
from greenroom.runtime.object_ref import ObjectRef

DEFAULT_CHUNK_SIZE = 10
DEFAULT_BACKPRESSURE_SIZE = 100


def _check(chunk_size: Any, wait_kwargs: dict) -> None:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size={chunk_size!r}: `chunk_size` must be >= 1")
    if "num_returns" in wait_kwargs:
        raise ValueError("Use the `chunk_size` argument instead of `num_returns`.")


def _next_batch(
    refs: list[ObjectRef], chunk_size: int, yield_obj_refs: bool, wait_kwargs: dict
) -> tuple[list, list]:
    """Wait for up to ``chunk_size`` of ``refs``: (their values or refs, the refs still pending)."""
    ready, rest = wait(refs, num_returns=min(chunk_size, len(refs)), **wait_kwargs)
    return (ready if yield_obj_refs else get(ready)), rest


def as_completed(
    refs: Sequence[ObjectRef],
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    yield_obj_refs: bool = False,
    **kwargs: Any,
) -> Iterator[Any]:
    """Yield the results of ``refs`` as they become ready, ``chunk_size`` at a time.

    Results come in batches: each batch is the refs ``wait(num_returns=chunk_size)``
    reports ready, in the order of ``refs``; so the order is no promise.

    Args:
        refs: ObjectRefs.
        chunk_size: how many results to wait for per batch (``num_returns`` of ``wait()``).
        yield_obj_refs: yield the ready refs instead of their values.
        **kwargs: more arguments for ``wait()`` (``timeout``, ``fetch_local``).

    Raises:
        ValueError: ``chunk_size`` below 1, or ``num_returns`` among ``kwargs``.
        Exception: a task's error, when its result is reached.
    """
    _check(chunk_size, kwargs)
    pending = list(refs)

    def results() -> Iterator[Any]:
        rest = pending
        while rest:
            batch, rest = _next_batch(rest, chunk_size, yield_obj_refs, kwargs)
            yield from batch

    return results()


def map_unordered(
    fn: Any,
    items: Iterable[Any],
    *,
    backpressure_size: int | None = DEFAULT_BACKPRESSURE_SIZE,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    yield_obj_refs: bool = False,
    **kwargs: Any,
) -> Iterator[Any]:
    """Run ``fn.remote(item)`` for each item; yield the results as they finish.

    At most ``backpressure_size`` tasks are pending at once: past that, the
    iterator waits for ``chunk_size`` of them and yields their results before
    submitting more. Items are read lazily, as the iterator is consumed.

    Args:
        fn: a remote function (decorated with ``@remote``).
        items: the values to call it on.
        backpressure_size: the most tasks pending at once; None for no limit.
        chunk_size: how many results to wait for at a time.
        yield_obj_refs: yield refs instead of values.
        **kwargs: more arguments for ``wait()`` (``timeout``, ``fetch_local``).

    Raises:
        TypeError: ``fn`` is not a remote function.
        ValueError: ``backpressure_size`` or ``chunk_size`` below 1, or ``num_returns`` among ``kwargs``.
    """
    if not callable(getattr(fn, "remote", None)):
        raise TypeError(f"map_unordered(fn={fn!r:.100}): expected a remote function, decorated with @remote")
    if backpressure_size is not None and (
        isinstance(backpressure_size, bool) or not isinstance(backpressure_size, int) or backpressure_size < 1
    ):
        raise ValueError(f"backpressure_size={backpressure_size!r}: backpressure_size must be positive.")
    _check(chunk_size, kwargs)
    limit = float("inf") if backpressure_size is None else backpressure_size

    def results() -> Iterator[Any]:
        refs: list[ObjectRef] = []
        for item in items:
            refs.append(fn.remote(item))
            if len(refs) >= limit:
                batch, refs = _next_batch(refs, chunk_size, yield_obj_refs, kwargs)
                yield from batch
        yield from as_completed(refs, chunk_size=chunk_size, yield_obj_refs=yield_obj_refs, **kwargs)

    return results()
