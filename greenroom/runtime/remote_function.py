"""Remote functions: options checked at decoration, bound to a node at first ``.remote()``."""

from __future__ import annotations

import functools
import hashlib
import inspect
import os
from typing import Any, Callable, Generic, ParamSpec, TypeVar

from greenroom.runtime import binding, serialization, state
from greenroom.runtime.generators import make_generator
from greenroom.runtime.options import TaskOptions, task_options
from greenroom.runtime.signature import CallShape, check_call

# This process's pid, kept without a syscall per .remote() (a forked child updates it).
_process = [os.getpid()]
os.register_at_fork(after_in_child=lambda: _process.__setitem__(0, os.getpid()))

P = ParamSpec("P")
R = TypeVar("R")


class _Exported:
    """A function pickled once: its id (content hash) and bytes (and the function itself,
    for a backend that hands it to another engine)."""

    __slots__ = ("name", "func_id", "blob", "function")

    def __init__(self, fn: Callable, name: str) -> None:
        self.name = name
        self.function = fn
        try:
            self.blob = serialization.dumps(fn)
        except Exception as e:
            raise TypeError(f"cannot pickle remote function {name!r}: {type(e).__name__}: {e}") from e
        self.func_id = hashlib.blake2b(self.blob, digest_size=16).digest()


class RemoteFunction(Generic[P, R]):
    """A function decorated with ``@remote``: call ``.remote(...)`` to run it as a task."""

    def __init__(self, fn: Callable[P, R], options: dict[str, Any]) -> None:
        self._function = fn
        self._raw_options = dict(options)
        # A generator function streams its values unless num_returns says otherwise (Ray's default).
        self._is_generator = inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn)
        self._options: TaskOptions = task_options(self._raw_options, self._is_generator)
        self._name = options.get("name") or getattr(fn, "__qualname__", repr(fn))
        self._shape = CallShape.of(fn)
        self._exported: _Exported | None = None
        self._exported_pid = 0
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            f"remote function {self._name!r} cannot be called directly; "
            f"use {self._name}.remote(...) to run it as a task"
        )

    def _export(self) -> _Exported:
        # Pickled at first use (as Ray does), so module-level names it uses are defined.
        exported = self._exported
        if exported is None or self._exported_pid != _process[0]:
            exported = self._exported = _Exported(self._function, self._name)
            self._exported_pid = _process[0]
        return exported

    def remote(self, *args: P.args, **kwargs: P.kwargs) -> Any:
        """Submit a call; returns an ObjectRef (a list of them if num_returns > 1), or for a
        generator an ObjectRefGenerator (``num_returns="streaming"``, the default for one)."""
        if self._shape is not None:
            check_call(self._shape, self._name, args, kwargs)
        options = self._options
        refs = state.runtime().submit_task(self._export(), options, args, kwargs)
        if options.generator is not None:
            return make_generator(refs, options.generator)
        return refs[0] if options.num_returns == 1 else refs

    def bind(self, *args: Any, **kwargs: Any) -> Any:
        """A lazy call of this function: a ``FunctionNode`` of a DAG, run by ``.execute()``.

        Arguments may be values, ObjectRefs or other DAG nodes (whose results
        are passed), e.g. ``f.bind(g.bind(inp))`` inside ``with InputNode() as inp:``.
        """
        return binding.bind(self, args, kwargs)

    def options(self, **options: Any) -> RemoteFunction[P, R]:
        """A copy of this function with some options changed (validated now)."""
        clone = RemoteFunction.__new__(RemoteFunction)
        clone.__dict__.update(self.__dict__)
        clone._raw_options = {**self._raw_options, **options}
        clone._options = task_options(clone._raw_options, self._is_generator)
        clone._name = clone._raw_options.get("name") or self._name
        if clone._name != self._name:
            clone._exported = None
        return clone

    def __reduce__(self) -> Any:
        return (RemoteFunction, (self._function, self._raw_options))

    def __repr__(self) -> str:
        return f"<greenroom remote function {self._name}>"
