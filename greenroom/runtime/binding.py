"""``.bind()``: how remote functions, actor classes and actor methods become DAG nodes.

The DAG layer (``greenroom.dag``) sits above the runtime and the actors, which
must not import it (tests/test_layering.py). It registers its node builder
here when it is imported, and ``import greenroom`` imports it, so ``bind()``
always finds one: the same pattern as ``state.set_starter``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_builder: Callable[[Any, tuple, dict], Any] | None = None


def set_builder(builder: Callable[[Any, tuple, dict], Any]) -> None:
    """Register how ``bind()`` builds a node: ``builder(target, args, kwargs)``."""
    global _builder
    _builder = builder


def bind(target: Any, args: tuple, kwargs: dict) -> Any:
    """The DAG node for ``target.bind(*args, **kwargs)``.

    Raises:
        RuntimeError: greenroom.dag was never imported (``import greenroom`` imports it).
    """
    if _builder is None:
        raise RuntimeError(
            f"{target!r}.bind() builds a DAG node, which needs greenroom.dag: import greenroom.dag first"
        )
    return _builder(target, args, kwargs)
