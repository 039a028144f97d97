"""ClassNode and ClassMethodNode: an actor and calls on it, as DAG nodes (Ray's ``ray.dag.class_node``).

``Actor.bind(*args)`` is a ClassNode; each ``execute()`` creates the actor
anew, as Ray's does. ``class_node.method.bind(...)`` is a ClassMethodNode;
method calls bound on one ClassNode run in the order they were bound, even
those whose results the graph never uses (each call depends on the one bound
before it), so ``a.inc.bind(2); a.get.bind()`` sees the increment.
``handle.method.bind(...)`` on a live actor is a ClassMethodNode too, calling
that actor.
"""

from __future__ import annotations

from typing import Any

from greenroom.dag.dag_node import PARENT_CLASS_NODE_KEY, PREV_CLASS_METHOD_CALL_KEY, DAGNode, Execution
from greenroom.dag.input_node import InputAttributeNode, InputNode


class ClassNode(DAGNode):
    """An actor creation in a DAG: ``Actor.bind(*args, **kwargs)``."""

    def __init__(self, actor_class: Any, args: tuple, kwargs: dict) -> None:
        super().__init__(args, kwargs)
        self._body = actor_class
        self._last_call: ClassMethodNode | None = None
        if any(isinstance(child, (InputNode, InputAttributeNode)) for child in self._children()):
            name = getattr(actor_class, "_name", "an actor class")
            raise ValueError(
                f"an InputNode can't be an argument of {name}.bind(...): the DAG's input "
                "goes to its task and method calls; pass it to a method instead, e.g. actor.method.bind(inp)"
            )

    def _describe(self) -> str:
        return f"ClassNode({getattr(self._body, '_name', self._body)!r})"

    def _execute_impl(self, run: Execution) -> Any:
        return self._body.remote(*run.resolve(self._bound_args), **run.resolve(self._bound_kwargs))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_body", "_last_call"):
            raise AttributeError(name)
        if name in ("bind", "remote"):
            return super().__getattr__(name)
        methods = getattr(self._body, "_methods", None)
        if methods is not None and name not in methods:
            raise AttributeError(
                f"actor class {self._body._name} has no method {name!r}; its methods are {sorted(methods)}"
            )
        return _UnboundClassMethodNode(self, name, {})


class _UnboundClassMethodNode:
    """``class_node.method``: call ``.bind(...)`` (or ``.options(...).bind(...)``) on it."""

    def __init__(self, actor: ClassNode, method_name: str, options: dict) -> None:
        self._actor = actor
        self._method_name = method_name
        self._options = options

    def options(self, **options: Any) -> _UnboundClassMethodNode:
        """Call options for the bound call, as ``handle.method.options(...)`` takes."""
        return _UnboundClassMethodNode(self._actor, self._method_name, {**self._options, **options})

    def bind(self, *args: Any, **kwargs: Any) -> ClassMethodNode:
        """A call of this method on the node's actor, after the calls bound on it before."""
        node = ClassMethodNode(
            self._method_name, args, kwargs, self._options, self._actor, self._actor._last_call
        )
        self._actor._last_call = node
        return node

    def __getattr__(self, attr: str) -> Any:
        if attr == "remote":
            raise AttributeError(
                ".remote() cannot be used on ClassMethodNodes. "
                "Use .bind() instead to express a symbolic actor call."
            )
        raise AttributeError(attr)


class ClassMethodNode(DAGNode):
    """An actor method call in a DAG, on an actor node or on a live actor handle."""

    def __init__(
        self,
        method_name: str,
        args: tuple,
        kwargs: dict,
        options: dict,
        parent: Any,
        prev: ClassMethodNode | None = None,
        bound_method: Any = None,
    ) -> None:
        other = {PARENT_CLASS_NODE_KEY: parent}
        if prev is not None:
            other[PREV_CLASS_METHOD_CALL_KEY] = prev
        super().__init__(args, kwargs, options, other)
        self._method_name = method_name
        self._bound_method = bound_method  # handle.method, for a live actor

    def get_method_name(self) -> str:
        return self._method_name

    def _describe(self) -> str:
        return f"ClassMethodNode({self._method_name}())"

    def _execute_impl(self, run: Execution) -> Any:
        method = self._bound_method
        if method is None:
            handle = run.resolve(self._bound_other_args_to_resolve[PARENT_CLASS_NODE_KEY])
            method = getattr(handle, self._method_name)
            if self._bound_options:
                method = method.options(**self._bound_options)
        return method.remote(*run.resolve(self._bound_args), **run.resolve(self._bound_kwargs))
