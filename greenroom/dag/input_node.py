"""InputNode: what a DAG's ``execute(*args, **kwargs)`` is given (Ray's ``ray.dag.input_node``).

Used only as a context manager, ``with InputNode() as inp:``, with the graph
bound inside. ``inp`` stands for the input: the one argument itself when
``execute`` gets exactly one positional argument, else all of them. ``inp[i]``
and ``inp.key`` (or ``inp["key"]``) pick a part: with several arguments, the
i-th positional argument or the keyword argument ``key``; with one argument,
its own item or attribute (``execute([1, 2])`` and ``inp[0]`` give 1).
"""

from __future__ import annotations

from typing import Any

from greenroom.dag.dag_node import DAGNode, Execution


class DAGInputData:
    """``execute()``'s arguments, unless just one: ``[i]`` positional, ``[key]`` or ``.key`` keyword."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._args = args
        self._kwargs = kwargs

    def __getitem__(self, key: int | str) -> Any:
        if isinstance(key, int):
            if not -len(self._args) <= key < len(self._args):
                raise IndexError(
                    f"the DAG reads input [{key}], but execute() got {len(self._args)} positional argument(s)"
                )
            return self._args[key]
        return self._keyword(key)

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        return self._keyword(key)

    def _keyword(self, key: str) -> Any:
        if key not in self._kwargs:
            raise KeyError(
                f"the DAG reads input {key!r}, but execute() got keyword arguments {sorted(self._kwargs)}"
            )
        return self._kwargs[key]


class InputNode(DAGNode):
    """The input of a DAG; use it as ``with InputNode() as inp:`` and bind the graph inside."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args or kwargs:
            raise ValueError(
                "InputNode should not take any args or kwargs: InputNode(), then execute(*args, **kwargs)"
            )
        super().__init__((), {})
        self._in_context = False

    def __enter__(self) -> InputNode:
        self._in_context = True
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __getitem__(self, key: int | str) -> InputAttributeNode:
        if isinstance(key, bool) or not isinstance(key, (int, str)):
            raise TypeError(f"InputNode[{key!r}]: Please only use int index or str as first-level key")
        return InputAttributeNode(self, key, "__getitem__")

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_") or key in ("bind", "remote"):
            return super().__getattr__(key)
        return InputAttributeNode(self, key, "__getattr__")

    def _execute_impl(self, run: Execution) -> Any:
        if not self._in_context:
            raise ValueError(
                "InputNode is a singleton instance that should be only used in context manager: "
                "bind the DAG inside `with InputNode() as inp:`"
            )
        run.note_input(self)
        if len(run.args) == 1 and not run.kwargs:
            return run.args[0]
        return DAGInputData(*run.args, **run.kwargs)


class InputAttributeNode(DAGNode):
    """A part of the input: ``inp[key]`` or ``inp.key``."""

    def __init__(self, input_node: InputNode, key: int | str, accessor: str) -> None:
        super().__init__((input_node,), {})
        self._key = key
        self._accessor = accessor

    def _describe(self) -> str:
        return f"InputNode[{self._key!r}]" if self._accessor == "__getitem__" else f"InputNode.{self._key}"

    def _execute_impl(self, run: Execution) -> Any:
        value = run.resolve(self._bound_args[0])
        if self._accessor == "__getitem__":
            return value[self._key]
        return getattr(value, self._key)
