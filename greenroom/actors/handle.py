"""ActorHandle: call an actor's methods with ``handle.method.remote(...)``.

Handles are picklable: pass them to tasks and other actors. Each process
counts its live handles (runtime/handles.py) so an actor with none left
anywhere is ended, as in Ray.
"""

from __future__ import annotations

from typing import Any

from greenroom.actors.methods import check_method_options
from greenroom.exceptions import PendingCallsLimitExceeded
from greenroom.runtime import binding, state
from greenroom.runtime.actor_worker import TERMINATE
from greenroom.runtime.generators import make_generator
from greenroom.runtime.handles import note_pickled
from greenroom.runtime.signature import CallShape, check_call


class ActorMethod:
    """One method of an actor: ``.remote(*args)`` returns an ObjectRef (an ObjectRefGenerator
    for a generator method, see ``greenroom.ObjectRefGenerator``)."""

    __slots__ = ("_handle", "_name", "_num_returns", "_shape", "_group", "_max_task_retries", "_backpressure")

    def __init__(self, handle: ActorHandle, name: str, num_returns: int | str, shape: CallShape | None,
                 group: str | None = None, max_task_retries: int | None = None,
                 backpressure: int | None = None) -> None:  # fmt: skip
        self._handle = handle
        self._name = name
        self._num_returns = num_returns  # or "streaming" / "dynamic" for a generator method
        self._shape = shape
        self._group = group
        self._max_task_retries = max_task_retries
        self._backpressure = backpressure  # _generator_backpressure_num_objects

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        h = self._handle
        name = f"{h._class_name}.{self._name}"
        if self._shape is not None:
            check_call(self._shape, name, args, kwargs)
        if h._max_pending > 0:
            h._check_pending()
        num_returns, generator = self._num_returns, None
        if type(num_returns) is str:  # a generator method: one return object, its completion
            generator = (num_returns, -1 if self._backpressure is None else self._backpressure)
            num_returns = 1
        refs = h._runtime.submit_actor_call(h._actor_id, self._name, name, num_returns, args, kwargs,
                                            self._group, self._max_task_retries, generator)  # fmt: skip
        if h._max_pending > 0:
            h._pending.append(refs[0].id)
        if generator is not None:
            return make_generator(refs, generator)
        return refs[0] if num_returns == 1 else refs

    def bind(self, *args: Any, **kwargs: Any) -> Any:
        """A lazy call of this method on this live actor: a ``ClassMethodNode`` of a DAG."""
        return binding.bind(self, args, kwargs)

    def options(self, **options: Any) -> ActorMethod:
        """A copy with other call options (``num_returns``, ``concurrency_group``, ...)."""
        check_method_options(options, "options")
        group = options.get("concurrency_group", self._group)
        if group is not None and group not in self._handle._groups:
            raise ValueError(
                f"concurrency_group={group!r}: actor {self._handle._class_name} has no such group; "
                f"its groups are {sorted(self._handle._groups)} (declare them in @remote(concurrency_groups=...))"
            )
        return ActorMethod(self._handle, self._name, options.get("num_returns", self._num_returns), self._shape,
                           group, options.get("max_task_retries", self._max_task_retries),
                           options.get("_generator_backpressure_num_objects", self._backpressure))  # fmt: skip

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            f"actor method {self._handle._class_name}.{self._name} cannot be called directly; "
            f"use .{self._name}.remote(...)"
        )


class ActorHandle:
    """A handle to a live actor. Attribute access gives its methods."""

    def __init__(self, actor_id: bytes, class_name: str, methods: dict[str, dict], is_async: bool,
                 extras: dict | None = None) -> None:  # fmt: skip
        self._actor_id = actor_id
        self._class_name = class_name
        self._methods = methods  # name -> its options (actors/methods.py), as plain data
        self._parsed: dict[str, tuple] = {}
        self._is_async = is_async
        self._extras = extras or {}
        self._groups = set(self._extras.get("concurrency_groups", ()))
        self._max_pending = self._extras.get("max_pending_calls", -1)
        self._pending: list[bytes] = []  # ids of this handle's calls not known to be done (max_pending_calls)
        self._runtime = state.runtime()
        self._runtime.handles.added(actor_id)

    def __getattr__(self, name: str) -> ActorMethod:
        methods = self.__dict__.get("_methods")
        if name == TERMINATE:  # a graceful end, queued behind the calls before it (Ray's name)
            return ActorMethod(self, name, 1, None)
        if methods is None or name.startswith("__"):
            raise AttributeError(name)
        if name not in methods:
            raise AttributeError(
                f"actor {self._class_name} has no method {name!r}; its methods are {sorted(methods)}"
            )
        parsed = self._parsed.get(name)
        if parsed is None:  # parsed once per handle (no ActorMethod kept: it would refer back to us)
            info = methods[name]
            parsed = self._parsed[name] = (info["num_returns"], CallShape.from_wire(info["shape"]),
                                           info["concurrency_group"], info["max_task_retries"],
                                           info.get("backpressure"))  # fmt: skip
        return ActorMethod(self, name, *parsed)

    def _check_pending(self) -> None:
        """Refuse a call beyond ``max_pending_calls`` of this handle's calls still pending."""
        if len(self._pending) >= self._max_pending:
            done = self._runtime.done_ids(self._pending)
            self._pending = [oid for oid in self._pending if oid not in done]
        if len(self._pending) >= self._max_pending:
            raise PendingCallsLimitExceeded(
                f"actor {self._class_name} already has {len(self._pending)} calls pending from this handle "
                f"(max_pending_calls={self._max_pending}); wait for some to finish (get() or wait() on their "
                "refs), or create the actor with a larger max_pending_calls"
            )

    def __reduce__(self) -> Any:
        note_pickled(self._actor_id)
        return (ActorHandle, (self._actor_id, self._class_name, self._methods, self._is_async, self._extras))

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
        raise ValueError(f"kill() expects an ActorHandle, got {type(actor).__name__} {actor!r:.100}")
    rt = state.runtime()
    backend = getattr(actor._actor_id, "backend", "local")
    if backend != rt.backend:
        raise ValueError(
            f"kill({actor!r}): the actor belongs to the {backend!r} backend, but greenroom now runs on the "
            f"{rt.backend!r} one (init(address=...)); kill it while connected to the backend that started it"
        )
    rt.call("kill_actor", actor._actor_id, bool(no_restart))
