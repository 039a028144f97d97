"""MultiOutputNode: a DAG with several results (Ray's ``ray.dag.output_node``)."""

from __future__ import annotations

from typing import Any

from greenroom.dag.dag_node import DAGNode, Execution


class MultiOutputNode(DAGNode):
    """``MultiOutputNode([a, b])``: executing it gives ``[result of a, result of b]``."""

    def __init__(self, args: list | tuple, other_args_to_resolve: dict | None = None) -> None:
        if not isinstance(args, (list, tuple)):
            raise TypeError(f"MultiOutputNode expects a list of DAG nodes, got {args!r:.100}")
        super().__init__(tuple(args), {}, None, other_args_to_resolve)

    def _execute_impl(self, run: Execution) -> Any:
        return [run.resolve(a) for a in self._bound_args]
