"""``@remote`` on a class: options checked at decoration, an actor per ``.remote()``."""

from __future__ import annotations

import inspect
import os
from typing import Any, Callable

from greenroom.actors.handle import ActorHandle
from greenroom.runtime import serialization, state, wire
from greenroom.runtime.actor_worker import is_async_class
from greenroom.runtime.limits import parse_enforce
from greenroom.runtime.options import check_names, placement_of
from greenroom.runtime.task_spec import encode_args
from greenroom.scheduler.resources import parse_resources

ACTOR_OPTIONS = frozenset({
    "num_cpus", "num_gpus", "memory", "resources", "max_concurrency", "max_restarts",
    "max_task_retries", "name", "namespace", "lifetime", "get_if_exists", "scheduling_strategy",
    "placement_group", "placement_group_bundle_index", "placement_group_capture_child_tasks",
    "runtime_env", "accelerator_type", "max_pending_calls", "concurrency_groups", "_metadata",
    "object_store_memory", "label_selector", "enable_task_events", "_enforce",
})  # fmt: skip


def method(*, num_returns: int = 1, **unsupported: Any) -> Callable:
    """Per-method options for actor methods: ``@method(num_returns=2)``."""
    if unsupported:
        raise ValueError(f"unknown @method option(s) {sorted(unsupported)}; valid: num_returns")
    if isinstance(num_returns, bool) or not isinstance(num_returns, int) or num_returns < 1:
        raise ValueError(f"@method(num_returns={num_returns!r}): expected a positive integer")

    def mark(fn: Callable) -> Callable:
        fn.__greenroom_num_returns__ = num_returns
        return fn

    return mark


def _int(options: dict, key: str, default: int, minimum: int) -> int:
    value = options.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{key}={value!r}: expected an integer >= {minimum}")
    return value


class ActorClass:
    """A class decorated with ``@remote``: ``Cls.remote(*args)`` starts an actor."""

    def __init__(self, cls: type, options: dict[str, Any]) -> None:
        self._cls = cls
        self._name = cls.__name__
        self._is_async = is_async_class(cls)
        self._methods = {
            name: getattr(fn, "__greenroom_num_returns__", 1)
            for name, fn in inspect.getmembers(cls, predicate=callable)
            if not (name.startswith("__") and name.endswith("__"))
        }
        self._raw = dict(options)
        self._check(self._raw)
        self._blob: bytes | None = None
        self._blob_pid = 0
        self.__doc__ = cls.__doc__

    def _check(self, options: dict) -> dict:
        check_names(options, ACTOR_OPTIONS, f"actor class {self._name}")
        for key, fine in (("concurrency_groups", (None,)), ("max_pending_calls", (None, -1))):
            if options.get(key) not in fine:
                raise ValueError(f"option {key}={options[key]!r} is not supported by greenroom; remove it")
        lifetime = options.get("lifetime")
        if lifetime not in (None, "detached", "non_detached"):
            raise ValueError(f"lifetime={lifetime!r}: expected None, 'detached' or 'non_detached'")
        for key in ("name", "namespace"):
            if options.get(key) is not None and not isinstance(options[key], str):
                raise TypeError(f"{key}={options[key]!r}: expected a string")
        default_concurrency = 1000 if self._is_async else 1
        return {
            "request": parse_resources(
                num_cpus=options.get("num_cpus"), num_gpus=options.get("num_gpus"),
                memory=options.get("memory"), resources=options.get("resources"), default_cpus=0,
            ),
            "placement": placement_of(options),
            "max_restarts": _int(options, "max_restarts", 0, -1),
            "max_task_retries": _int(options, "max_task_retries", 0, -1),
            "max_concurrency": _int(options, "max_concurrency", default_concurrency, 1),
            "enforce": parse_enforce(options.get("_enforce", True), "_enforce"),
        }  # fmt: skip

    def options(self, **options: Any) -> ActorClass:
        """A copy with some options changed (validated now)."""
        clone = ActorClass.__new__(ActorClass)
        clone.__dict__.update(self.__dict__)
        clone._raw = {**self._raw, **options}
        clone._check(clone._raw)
        return clone

    def remote(self, *args: Any, **kwargs: Any) -> ActorHandle:
        """Start an actor; returns its handle at once (the constructor runs in its process)."""
        opts = self._check(self._raw)
        rt = state.runtime()
        if self._blob is None or self._blob_pid != os.getpid():
            try:
                self._blob = serialization.dumps(self._cls)
            except Exception as e:
                raise TypeError(f"cannot pickle actor class {self._name}: {type(e).__name__}: {e}") from e
            self._blob_pid = os.getpid()
        args, kwargs = rt.promote_large(args, kwargs)
        args_blob, deps, pickled = encode_args(args, kwargs, f"{self._name}.__init__")
        actor_id = rt.ids.task_id() + b"\xac\xac\xac\xac"
        placement = opts["placement"] or rt.default_placement
        spec = wire.ActorSpec(
            actor_id=actor_id, class_name=self._name, class_blob=self._blob, args_blob=args_blob,
            deps=deps, request=dict(opts["request"].amounts), placement=list(placement) if placement else None,
            max_restarts=opts["max_restarts"], max_task_retries=opts["max_task_retries"],
            max_concurrency=opts["max_concurrency"], is_async=self._is_async,
            name=self._raw.get("name"), namespace=self._raw.get("namespace"),
            detached=self._raw.get("lifetime") == "detached", methods=self._methods,
            pins=pickled.actors, ref_pins=pickled.objects, enforce=opts["enforce"],
        )  # fmt: skip
        info = rt.call("create_actor", spec, 0, bool(self._raw.get("get_if_exists", False)))
        return ActorHandle(*info)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"actor class {self._name} cannot be instantiated directly; use {self._name}.remote(...)")

    def __repr__(self) -> str:
        return f"<greenroom actor class {self._name}>"
