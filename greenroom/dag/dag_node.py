"""DAGNode: a lazy call recorded by ``.bind()``, and how a graph of them runs.

A node holds what it was bound with: arguments (values, ObjectRefs, other
nodes, and nodes nested in lists, tuples and dicts), options, and for actor
method calls the actor and the call bound before it on that actor.
``execute(*args, **kwargs)`` walks the graph bottom-up, once per node per
execution (a node two others depend on runs once), submitting each task or
actor call with its children's results in place of the children; the
``InputNode`` stands for ``execute``'s own arguments. Nothing waits: a
function or method node gives an ObjectRef, an actor class node a handle.

The walk is iterative, so a long chain of nodes needs no deep recursion.
"""

from __future__ import annotations

from typing import Any

# Keys of get_other_args_to_resolve() for actor method calls, Ray's names.
PARENT_CLASS_NODE_KEY = "parent_class_node"
PREV_CLASS_METHOD_CALL_KEY = "prev_class_method_call"


class DAGNode:
    """A node of a task graph: built by ``.bind()``, run by ``.execute()``."""

    def __init__(
        self,
        args: tuple,
        kwargs: dict,
        options: dict | None = None,
        other_args_to_resolve: dict | None = None,
    ) -> None:
        self._bound_args = tuple(args)
        self._bound_kwargs = dict(kwargs)
        self._bound_options = dict(options or {})
        self._bound_other_args_to_resolve = dict(other_args_to_resolve or {})

    def get_args(self) -> tuple:
        """The bound positional arguments (nodes among them unresolved)."""
        return self._bound_args

    def get_kwargs(self) -> dict:
        """The bound keyword arguments."""
        return dict(self._bound_kwargs)

    def get_options(self) -> dict:
        """The options given with ``.options(...)`` on an actor method before ``bind``."""
        return dict(self._bound_options)

    def get_other_args_to_resolve(self) -> dict:
        """For an actor method call: its actor node and the call bound before it."""
        return dict(self._bound_other_args_to_resolve)

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        """Run the graph that ends here; ``args``/``kwargs`` are what its InputNode stands for.

        Returns:
            This node's result: an ObjectRef for a function or method node (a
            list of them for ``num_returns > 1`` or a MultiOutputNode), an
            ActorHandle for an actor class node.
        """
        return Execution(args, kwargs).run(self)

    # -- for subclasses ----------------------------------------------------------------------
    def _execute_impl(self, run: Execution) -> Any:
        """This node's result, its children's already in ``run``."""
        raise NotImplementedError

    def _children(self) -> list[DAGNode]:
        """The nodes this one needs first, in the order they were bound."""
        found: list[DAGNode] = []
        _scan([self._bound_args, self._bound_kwargs, self._bound_other_args_to_resolve], found)
        unique: dict[int, DAGNode] = {}
        for node in found:
            unique.setdefault(id(node), node)
        return list(unique.values())

    def _describe(self) -> str:
        return type(self).__name__

    # -- what a node is not ------------------------------------------------------------------
    def __getattr__(self, attr: str) -> Any:
        if attr == "bind":
            raise AttributeError(
                f".bind() cannot be used again on {self._describe()}; it is already a DAG node"
            )
        if attr == "remote":
            raise AttributeError(
                f".remote() cannot be used on {self._describe()}. To execute the task graph for this node, "
                "use .execute()."
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {attr!r}")

    def __reduce__(self) -> Any:
        raise ValueError(
            f"{self._describe()} is a DAG node and can't be pickled or passed to a task; "
            "pass the result of .execute() instead"
        )

    def __repr__(self) -> str:  # one level deep: a graph may be thousands of nodes long
        args = ", ".join(_shallow(a) for a in self._bound_args)
        kwargs = ", ".join(f"{k}={_shallow(v)}" for k, v in self._bound_kwargs.items())
        return f"{self._describe()}(args=[{args}], kwargs={{{kwargs}}})"


def _shallow(value: Any) -> str:
    """``value`` for a repr, with nodes named, not expanded."""
    if isinstance(value, DAGNode):
        return value._describe()
    found: list[DAGNode] = []
    _scan(value, found)
    return f"<{type(value).__name__} holding {len(found)} DAG node(s)>" if found else repr(value)


def _scan(value: Any, found: list[DAGNode]) -> None:
    """Append the DAG nodes in ``value`` (looking inside lists, tuples and dicts) to ``found``."""
    if isinstance(value, DAGNode):
        found.append(value)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _scan(v, found)
    elif isinstance(value, dict):
        for v in value.values():
            _scan(v, found)


def topological(root: DAGNode) -> list[DAGNode]:
    """Every node ``root`` needs, and ``root``, each after the nodes it needs."""
    order: list[DAGNode] = []
    seen: set[int] = set()
    stack: list[tuple[DAGNode, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for child in reversed(node._children()):
            if id(child) not in seen:
                stack.append((child, False))
    return order


class Execution:
    """One ``execute()``: its input, and each node's result once it has run."""

    def __init__(self, args: tuple, kwargs: dict) -> None:
        self.args = args
        self.kwargs = kwargs
        self.results: dict[int, Any] = {}
        self.input_node: DAGNode | None = None

    def run(self, root: DAGNode) -> Any:
        for node in topological(root):
            self.results[id(node)] = node._execute_impl(self)
        return self.results[id(root)]

    def resolve(self, value: Any) -> Any:
        """``value`` with every node in it replaced by that node's result."""
        if isinstance(value, DAGNode):
            return self.results[id(value)]
        if type(value) in (list, tuple):
            return type(value)(self.resolve(v) for v in value)
        if type(value) is dict:
            return {k: self.resolve(v) for k, v in value.items()}
        return value

    def note_input(self, node: DAGNode) -> None:
        """A graph has one InputNode: ``execute()``'s arguments can stand for only one."""
        if self.input_node is None:
            self.input_node = node
        elif self.input_node is not node:
            raise ValueError(
                "Each DAG should only have one unique InputNode: this one uses nodes bound in two "
                "`with InputNode()` blocks; bind the whole graph inside one"
            )
