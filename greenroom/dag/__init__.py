"""Ray's ``ray.dag``: lazy task graphs built with ``.bind()`` and run with ``.execute()``.

``f.bind(...)``, ``Actor.bind(...)``, ``actor_node.method.bind(...)`` and
``handle.method.bind(...)`` record calls instead of making them; nodes passed
as arguments stand for their results. ``InputNode`` stands for what
``execute`` is given, ``MultiOutputNode`` gathers several results.

Importing this package registers its node builder with the runtime
(``greenroom.runtime.binding``), which is how ``bind()`` on the lower layers
builds these nodes; ``import greenroom`` imports it.
"""

from __future__ import annotations

from typing import Any

from greenroom.actors.actor_class import ActorClass
from greenroom.actors.handle import ActorMethod
from greenroom.dag.class_node import ClassMethodNode, ClassNode
from greenroom.dag.dag_node import PARENT_CLASS_NODE_KEY, PREV_CLASS_METHOD_CALL_KEY, DAGNode
from greenroom.dag.function_node import FunctionNode
from greenroom.dag.input_node import DAGInputData, InputAttributeNode, InputNode
from greenroom.dag.output_node import MultiOutputNode
from greenroom.runtime import binding
from greenroom.runtime.remote_function import RemoteFunction

__all__ = [
    "PARENT_CLASS_NODE_KEY",
    "PREV_CLASS_METHOD_CALL_KEY",
    "ClassMethodNode",
    "ClassNode",
    "DAGInputData",
    "DAGNode",
    "FunctionNode",
    "InputAttributeNode",
    "InputNode",
    "MultiOutputNode",
]


def _build(target: Any, args: tuple, kwargs: dict) -> DAGNode:
    """The node for ``target.bind(*args, **kwargs)``."""
    if isinstance(target, RemoteFunction):
        return FunctionNode(target, args, kwargs)
    if isinstance(target, ActorClass):
        return ClassNode(target, args, kwargs)
    if isinstance(target, ActorMethod):
        return ClassMethodNode(target._name, args, kwargs, {}, target._handle, bound_method=target)
    raise TypeError(f"bind() is for remote functions, actor classes and actor methods, not {target!r:.100}")


binding.set_builder(_build)
