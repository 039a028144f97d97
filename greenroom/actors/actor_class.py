"""``@remote`` on a class: options checked at decoration, an actor per ``.remote()``."""

from __future__ import annotations

import os
from typing import Any

from greenroom import exceptions
from greenroom.actors.handle import ActorHandle
from greenroom.actors.methods import describe_methods
from greenroom.runtime import binding, serialization, state, wire
from greenroom.runtime.actor_worker import is_async_class
from greenroom.runtime.limits import parse_enforce
from greenroom.runtime.options import check_names, env_vars_of, scheduling_of
from greenroom.runtime.signature import CallShape, check_call
from greenroom.runtime.task_spec import encode_args
from greenroom.scheduler.resources import parse_resources

ACTOR_OPTIONS = frozenset({
    "num_cpus", "num_gpus", "memory", "resources", "max_concurrency", "max_restarts",
    "max_task_retries", "name", "namespace", "lifetime", "get_if_exists", "scheduling_strategy",
    "placement_group", "placement_group_bundle_index", "placement_group_capture_child_tasks",
    "runtime_env", "accelerator_type", "max_pending_calls", "concurrency_groups", "_metadata",
    "object_store_memory", "label_selector", "enable_task_events", "_enforce",
})  # fmt: skip


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
        self._methods = describe_methods(cls)
        self._shape = CallShape.of(cls)
        self._raw = dict(options)
        self._check(self._raw)
        self._blob: bytes | None = None
        self._blob_pid = 0
        self.__doc__ = cls.__doc__

    def _check(self, options: dict) -> dict:
        check_names(options, ACTOR_OPTIONS, f"actor class {self._name}")
        groups = self._concurrency_groups(options.get("concurrency_groups"))
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
                accelerator_type=options.get("accelerator_type"),
            ),
            "scheduling": scheduling_of(options),
            "max_restarts": _int(options, "max_restarts", 0, -1),
            "max_task_retries": _int(options, "max_task_retries", 0, -1),
            "max_concurrency": _int(options, "max_concurrency", default_concurrency, 1),
            "max_pending_calls": _int(options, "max_pending_calls", -1, -1),
            "concurrency_groups": groups,
            "enforce": parse_enforce(options.get("_enforce", True), "_enforce"),
            "env_vars": sorted(env_vars_of(options.get("runtime_env"), f"actor class {self._name}").items()),
        }  # fmt: skip

    def _concurrency_groups(self, groups: Any) -> dict:
        """``concurrency_groups={"io": 2, ...}``, checked; every method's group must be one of them."""
        groups = {} if groups is None else groups
        if not isinstance(groups, dict) or not all(
            isinstance(k, str) and k and isinstance(v, int) and not isinstance(v, bool) and v >= 1
            for k, v in groups.items()
        ):  # fmt: skip
            raise ValueError(f"concurrency_groups={groups!r}: expected a dict of group name -> max calls at once (>= 1)")
        for method, info in self._methods.items():
            group = info["concurrency_group"]
            if group is not None and group not in groups:
                raise ValueError(
                    f"method {self._name}.{method} is in concurrency group {group!r}, which actor class "
                    f"{self._name} does not declare; add it to @remote(concurrency_groups={{...}})"
                )
        return dict(groups)

    def options(self, **options: Any) -> ActorClass:
        """A copy with some options changed (validated now)."""
        clone = ActorClass.__new__(ActorClass)
        clone.__dict__.update(self.__dict__)
        clone._raw = {**self._raw, **options}
        clone._check(clone._raw)
        return clone

    def remote(self, *args: Any, **kwargs: Any) -> ActorHandle:
        """Start an actor; returns its handle at once (the constructor runs in its process)."""
        check_call(self._shape, self._name, args, kwargs)
        opts = self._check(self._raw)
        rt = state.runtime()
        if rt.backend != "local":  # another engine (greenroom.backends) starts its actors its own way
            return rt.start_actor(self, opts, args, kwargs)
        if self._blob is None or self._blob_pid != os.getpid():
            try:
                self._blob = serialization.dumps(self._cls)
            except Exception as e:
                raise TypeError(f"cannot pickle actor class {self._name}: {type(e).__name__}: {e}") from e
            self._blob_pid = os.getpid()
        args, kwargs = rt.promote_large(args, kwargs)
        args_blob, deps, pickled = encode_args(args, kwargs, f"{self._name}.__init__")
        actor_id = rt.ids.task_id() + b"\xac\xac\xac\xac"
        placement, capture = rt.placement_for(opts["scheduling"], f"actor {self._name}",
                                              exceptions.ActorUnschedulableError)  # fmt: skip
        spec = wire.ActorSpec(
            actor_id=actor_id, class_name=self._name, class_blob=self._blob, args_blob=args_blob,
            deps=deps, request=dict(opts["request"].amounts), placement=list(placement) if placement else None,
            max_restarts=opts["max_restarts"], max_task_retries=opts["max_task_retries"],
            max_concurrency=opts["max_concurrency"], is_async=self._is_async,
            name=self._raw.get("name"), namespace=self._raw.get("namespace"),
            detached=self._raw.get("lifetime") == "detached", methods=self._methods,
            pins=pickled.actors, ref_pins=pickled.objects, capture=capture,
            concurrency_groups=opts["concurrency_groups"], max_pending_calls=opts["max_pending_calls"],
            enforce=opts["enforce"], env_vars=[list(p) for p in opts["env_vars"]] or None,
        )  # fmt: skip
        info = rt.call("create_actor", spec, 0, bool(self._raw.get("get_if_exists", False)))
        return ActorHandle(*info)

    def bind(self, *args: Any, **kwargs: Any) -> Any:
        """A lazy actor: a ``ClassNode`` of a DAG; ``node.method.bind(...)`` calls it.

        Each ``execute()`` of a DAG creates the actor anew, with these arguments.
        """
        return binding.bind(self, args, kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"actor class {self._name} cannot be instantiated directly; use {self._name}.remote(...)")

    def __repr__(self) -> str:
        return f"<greenroom actor class {self._name}>"
