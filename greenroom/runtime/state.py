"""The one global: a pointer to this process's runtime (driver or worker).

Everything else hangs off that object; ``shutdown()`` drops it. The public API
registers how to start a default node (``set_starter``), so that calling the
API before ``init()`` starts one, as Ray does, without this module importing it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol


class Runtime(Protocol):
    """What the API layers use of a runtime (``runtime_base.Runtime`` implements it)."""

    namespace: str
    backend: str  # "local" (greenroom's own node) or "ray" (greenroom.backends.ray): refs and handles carry theirs
    default_placement: tuple | None  # (pg id, -1): where this process's work goes by default
    ids: Any  # object_ref.IdMinter
    refs: Any  # handles.Counts of this process's ObjectRefs
    handles: Any  # handles.Counts of this process's actor handles

    def submit_task(self, fn_info: Any, options: Any, args: tuple, kwargs: dict) -> list: ...
    def submit_actor_call(self, actor_id: bytes, method: str, name: str, num_returns: int, args: tuple,
                          kwargs: dict, group: str | None = None, max_task_retries: int | None = None,
                          generator: tuple | None = None) -> list: ...  # fmt: skip
    def get(self, refs: list, timeout: float | None) -> list: ...
    def wait_ids(self, ids: list[bytes], num_returns: int, timeout: float | None) -> set[bytes]: ...
    def put(self, value: Any) -> Any: ...
    def promote_large(self, args: tuple, kwargs: dict) -> tuple[tuple, dict]: ...
    def future(self, ref: Any) -> Any: ...
    async def await_ref(self, ref: Any) -> Any: ...
    def call(self, method: str, *args: Any) -> Any: ...
    # Only where backend != "local": start an actor of an ActorClass (its options checked).
    def start_actor(self, actor_class: Any, options: dict, args: tuple, kwargs: dict) -> Any: ...


_runtime: Runtime | None = None
_starter: Callable[[], object] | None = None
_backends: dict[str, Callable[..., Any]] = {}
_lock = threading.RLock()


def runtime() -> Runtime:
    """The current runtime, starting a default node on first use (as Ray does)."""
    rt = _runtime
    if rt is not None:
        return rt
    if _starter is None:
        raise RuntimeError("greenroom is not initialized: call greenroom.init() first")
    _starter()
    return _runtime


def current() -> Runtime | None:
    """The runtime if one is running, else None (never starts one)."""
    return _runtime


def set_runtime(rt: Runtime | None) -> None:
    global _runtime
    _runtime = rt


def set_starter(start: Callable[[], object]) -> None:
    """How ``runtime()`` starts a default node when none runs yet."""
    global _starter
    _starter = start


def lock() -> threading.RLock:
    return _lock


def register_backend(name: str, connect: Callable[..., Any]) -> None:
    """How ``init(address=...)`` connects to another engine (the package face registers
    "ray", importing greenroom.backends.ray only when called: the runtime never imports a backend)."""
    _backends[name] = connect


def backend(name: str) -> Callable[..., Any]:
    return _backends[name]
