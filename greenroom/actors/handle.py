"""ActorHandle: call an actor's methods with ``handle.method.remote(...)``.

Handles are picklable: pass them to tasks and other actors. Each process
counts its live handles (runtime/handles.py) so an actor with none left
anywhere is ended, as in Ray.
"""

from __future__ import annotations

from typing import Any

from greenroom.runtime import binding, state
from greenroom.runtime.handles import note_pickled


class ActorMethod:
    """One method of an actor: ``.remote(*args)`` returns an ObjectRef."""

    __slots__ = ("_handle", "_name", "_num_returns")

    def __init__(self, handle: ActorHandle, name: str, num_returns: int) -> None:
        self._handle = handle
        self._name = name
        self._num_returns = num_returns

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        h = self._handle
        refs = h._runtime.submit_actor_call(
            h._actor_id, self._name, f"{h._class_name}.{self._name}", self._num_returns, args, kwargs
        )
        return refs[0] if self._num_returns == 1 else refs

    def bind(self, *args: Any, **kwargs: Any) -> Any:
        """A lazy call of this method on this live actor: a ``ClassMethodNode`` of a DAG."""
        return binding.bind(self, args, kwargs)

    def options(self, *, num_returns: int | None = None, **unsupported: Any) -> ActorMethod:
        """A copy with other call options (``num_returns``)."""
        if unsupported:
            raise ValueError(f"unknown actor method option(s) {sorted(unsupported)}; valid: num_returns")
        if num_returns is None:
            return self
        if isinstance(num_returns, bool) or not isinstance(num_returns, int) or num_returns < 1:
            raise ValueError(f"num_returns={num_returns!r}: expected a positive integer")
        return ActorMethod(self._handle, self._name, num_returns)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            f"actor method {self._handle._class_name}.{self._name} cannot be called directly; "
            f"use .{self._name}.remote(...)"
        )


class ActorHandle:
    """A handle to a live actor. Attribute access gives its methods."""

    def __init__(self, actor_id: bytes, class_name: str, methods: dict[str, int], is_async: bool) -> None:
        self._actor_id = actor_id
        self._class_name = class_name
        self._methods = methods
        self._is_async = is_async
        self._runtime = state.runtime()
        self._runtime.handles.added(actor_id)

    def __getattr__(self, name: str) -> ActorMethod:
        methods = self.__dict__.get("_methods")
        if methods is None or name.startswith("__"):
            raise AttributeError(name)
        if name not in methods:
            raise AttributeError(
                f"actor {self._class_name} has no method {name!r}; its methods are {sorted(methods)}"
            )
        return ActorMethod(self, name, methods[name])

    def __reduce__(self) -> Any:
        note_pickled(self._actor_id)
        return (ActorHandle, (self._actor_id, self._class_name, self._methods, self._is_async))

    def __del__(self) -> None:
        rt = self.__dict__.get("_runtime")
        if rt is not None and state.current() is rt:
            try:
                rt.handles.removed(self._actor_id)
            except Exception:  # interpreter shutdown
                pass

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ActorHandle) and other._actor_id == self._actor_id

    def __hash__(self) -> int:
        return hash(self._actor_id)

    def __repr__(self) -> str:
        return f"Actor({self._class_name}, {self._actor_id.hex()})"


def get_actor(name: str, namespace: str | None = None) -> ActorHandle:
    """A handle to the actor named ``name`` (in ``namespace``, default: the job's).

    Raises:
        ValueError: there is no live actor by that name.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"get_actor(name={name!r}): expected a non-empty string")
    info = state.runtime().call("get_actor", name, namespace)
    return ActorHandle(*info)


def kill(actor: ActorHandle, *, no_restart: bool = True) -> None:
    """End an actor now: its pending and later calls raise ActorDiedError.

    With ``no_restart=False`` it is restarted if its ``max_restarts`` allows.
    """
    if not isinstance(actor, ActorHandle):
        raise TypeError(f"kill() expects an ActorHandle, got {actor!r:.100}")
    state.runtime().call("kill_actor", actor._actor_id, bool(no_restart))
