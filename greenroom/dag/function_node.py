"""FunctionNode: a task in a DAG, ``f.bind(*args, **kwargs)`` (Ray's ``ray.dag.function_node``)."""

from __future__ import annotations

from typing import Any

from greenroom.dag.dag_node import DAGNode, Execution


class FunctionNode(DAGNode):
    """A call of a remote function in a DAG; each ``execute()`` submits it once."""

    def __init__(self, remote_function: Any, args: tuple, kwargs: dict) -> None:
        super().__init__(args, kwargs)
        self._body = remote_function

    def _describe(self) -> str:
        return f"FunctionNode({getattr(self._body, '_name', self._body)!r})"

    def _execute_impl(self, run: Execution) -> Any:
        return self._body.remote(*run.resolve(self._bound_args), **run.resolve(self._bound_kwargs))
