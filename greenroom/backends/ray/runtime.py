"""RayRuntime: the ``Runtime`` the public API calls when greenroom runs on a Ray cluster.

One per process, as greenroom's own: the driver's (``cluster.connect`` makes it)
and, inside each Ray worker where greenroom is imported, a worker's (``enter_worker``:
called by the wrappers of ``worker.py``, by every id unpickled there, and by the
package face when a Ray worker imports greenroom late). Every
call goes to Ray; refs and handles are greenroom's types carrying Ray's (ids.py);
Ray's exceptions come back as greenroom's (errors.py). Ray counts references
itself, so this runtime's ``refs``/``handles`` counts do nothing.
"""

from __future__ import annotations

import concurrent.futures
import time
from typing import Any

import ray
from ray import exceptions as rx

from greenroom import exceptions
from greenroom.actors.handle import ActorHandle
from greenroom.backends.ray import errors, ids, options, unfit, worker
from greenroom.backends.ray.generators import RayObjectRefGenerator, dynamic_value
from greenroom.backends.ray.ids import RayActorId, RayObjectId
from greenroom.runtime import context, state
from greenroom.runtime.object_ref import ObjectRef


class _NoCounts:
    """Ray counts references itself: greenroom's per-process counts are not needed here."""

    def created(self, key: bytes) -> None: ...
    def added(self, key: bytes) -> None: ...
    def removed(self, key: bytes) -> None: ...


_NO_COUNTS = _NoCounts()


def _ray_ref(oid: bytes) -> Any:
    try:
        return oid.ray
    except AttributeError:
        raise ids.foreign("ObjectRef", oid) from None


def _ray_actor(actor_id: bytes) -> Any:
    try:
        return actor_id.ray
    except AttributeError:
        raise ids.foreign("actor", actor_id) from None


def _wrap(ref: Any) -> ObjectRef:
    return ObjectRef._owned(RayObjectId(ref), _NO_COUNTS)


def _outputs(out: Any, num_returns: int, generator: tuple | None) -> list:
    """greenroom's refs (or its generator) for what Ray's ``.remote()`` returned."""
    if generator is not None and generator[0] == "streaming":
        return [RayObjectRefGenerator(out, _wrap)]
    if num_returns == 1 or generator is not None:
        return [_wrap(out)]
    return [_wrap(r) for r in out]


def _unwrap_args(args: tuple) -> tuple:
    """Top-level ObjectRefs as Ray's, so Ray resolves them to their values (as greenroom does)."""
    if any(type(a) is ObjectRef for a in args):
        return tuple(_ray_ref(a.id) if type(a) is ObjectRef else a for a in args)
    return args


def _unwrap_kwargs(kwargs: dict) -> dict:
    if kwargs and any(type(v) is ObjectRef for v in kwargs.values()):
        return {k: _ray_ref(v.id) if type(v) is ObjectRef else v for k, v in kwargs.items()}
    return kwargs


def describe_handle(handle: Any) -> tuple:
    """greenroom's ActorHandle arguments for a Ray handle greenroom did not create (get_actor)."""
    num_returns = getattr(handle, "_ray_method_num_returns", {}) or {}
    methods = {
        name: {"num_returns": n or 1, "shape": None, "concurrency_group": None, "max_task_retries": None}
        for name, n in num_returns.items()
        if not name.startswith("__")
    }
    descriptor = getattr(handle, "_ray_actor_creation_function_descriptor", None)
    class_name = getattr(descriptor, "class_name", "Actor").rpartition(".")[2]
    return (RayActorId(handle), class_name, methods, False, {})


class RayRuntime:
    """The Runtime protocol (runtime/state.py) carried out by Ray."""

    backend = "ray"
    default_placement = None
    arena = None

    def __init__(self, is_driver: bool, address: str = "") -> None:
        self.is_driver = is_driver
        self.address = address
        self.refs = self.handles = _NO_COUNTS
        ctx = ray.get_runtime_context()
        self.namespace = ctx.namespace
        self.job_id = ctx.get_job_id()
        self.node_id = ctx.get_node_id()
        self._tasks: dict[tuple, Any] = {}  # (func_id, TaskOptions) -> Ray's remote function with its options
        self._classes: dict[tuple, Any] = {}  # (class, gpu) -> Ray's actor class
        self._unfit = unfit.Notes(ray.nodes)
        self.init_context: Any = None
        self._calls = {
            "cancel": self._cancel, "get_actor": self._get_actor, "kill_actor": self._kill_actor,
            "actor_info": self._actor_info, "list_named_actors": self._list_named_actors,
            "done_ids": self.done_ids, "exit_actor": lambda: ray.actor.exit_actor(),
            "preload": lambda modules: None,
            "cluster_resources": ray.cluster_resources, "available_resources": ray.available_resources,
            "nodes": ray.nodes, "timeline": lambda: ray.timeline(),
            "create_placement_group": self._create_pg, "remove_placement_group": self._remove_pg,
            "get_placement_group": self._get_pg, "placement_group_table": lambda: ray.util.placement_group_table(),
        }  # fmt: skip

    # -- tasks ---------------------------------------------------------------------------------
    def submit_task(self, fn_info: Any, opts: Any, args: tuple, kwargs: dict) -> list[ObjectRef]:
        remote = self._tasks.get((fn_info.func_id, opts))
        if remote is None:
            remote = self._task_function(fn_info, opts)
        try:
            out = remote.remote(*_unwrap_args(args), **_unwrap_kwargs(kwargs))
        except rx.RayError as e:
            raise errors.translate(e) from e
        return _outputs(out, opts.num_returns, opts.generator)

    def _task_function(self, fn_info: Any, opts: Any) -> Any:
        gpu = options.wants_gpu(opts.request)
        ray_options = options.task(opts)
        self._note_infeasible(opts.request, opts.scheduling, f"task {fn_info.name!r}")
        body = worker.task_body(fn_info.function, gpu, opts.num_returns, fn_info.name)
        remote = ray.remote(**ray_options)(body)
        self._tasks[(fn_info.func_id, opts)] = remote
        return remote

    def _note_infeasible(self, request: Any, scheduling: Any, what: str) -> None:
        """Log once per request that no node of the cluster fits it now (see unfit.py)."""
        if scheduling.placement is None:  # in a group, the group's creation said it
            self._unfit.check(request, [request.to_dict()], "PACK", what)

    # -- actors --------------------------------------------------------------------------------
    def start_actor(self, actor_class: Any, checked: dict, args: tuple, kwargs: dict) -> ActorHandle:
        gpu = options.wants_gpu(checked["request"])
        key = (actor_class._cls, gpu)
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = ray.remote(
                worker.actor_class(actor_class._cls, gpu, actor_class._methods)
            )
            self._note_infeasible(checked["request"], checked["scheduling"], f"actor {actor_class._name}")
        try:
            handle = cls.options(**options.actor(checked, actor_class._raw)).remote(
                *_unwrap_args(args), **_unwrap_kwargs(kwargs)
            )
        except ValueError as e:
            if "already taken" in str(e):
                raise exceptions.ActorAlreadyExistsError(str(e)) from e
            raise
        except rx.RayError as e:
            raise errors.translate(e) from e
        extras = {"concurrency_groups": list(checked["concurrency_groups"]),
                  "max_pending_calls": checked["max_pending_calls"]}  # fmt: skip
        return ActorHandle(
            RayActorId(handle), actor_class._name, actor_class._methods, actor_class._is_async, extras
        )

    def submit_actor_call(self, actor_id: bytes, method: str, name: str, num_returns: int, args: tuple,
                          kwargs: dict, group: str | None = None, max_task_retries: int | None = None,
                          generator: tuple | None = None) -> list[ObjectRef]:  # fmt: skip
        bound = getattr(_ray_actor(actor_id), method)
        if group is not None or max_task_retries is not None or num_returns != 1 or generator is not None:
            call_options: dict[str, Any] = {"num_returns": num_returns}
            if group is not None:
                call_options["concurrency_group"] = group
            if max_task_retries is not None:
                call_options["max_task_retries"] = max_task_retries
            if generator is not None:
                call_options.update(options.generator(generator))
            bound = bound.options(**call_options)
        try:
            out = bound.remote(*_unwrap_args(args), **_unwrap_kwargs(kwargs))
        except rx.RayError as e:
            raise errors.translate(e) from e
        return _outputs(out, num_returns, generator)

    def _get_actor(self, name: str, namespace: str | None) -> tuple:
        return describe_handle(ray.get_actor(name, namespace=namespace))

    def _actor_info(self, actor_id: bytes) -> tuple:
        return describe_handle(ray.get_runtime_context().current_actor)

    def _kill_actor(self, actor_id: bytes, no_restart: bool) -> None:
        ray.kill(_ray_actor(actor_id), no_restart=no_restart)
        if no_restart:  # Ray kills asynchronously; greenroom's kill() returns once calls fail
            _wait_until_dead(actor_id.hex())

    def _list_named_actors(self, all_namespaces: bool) -> list:
        if all_namespaces:
            return [(e["namespace"], e["name"]) for e in ray.util.list_named_actors(all_namespaces=True)]
        return [(self.namespace, name) for name in ray.util.list_named_actors()]

    # -- objects -------------------------------------------------------------------------------
    def get(self, refs: list[ObjectRef], timeout: float | None) -> list[Any]:
        ray_refs = [_ray_ref(r.id) for r in refs]
        try:
            values = _in_slices(lambda t: ray.get(ray_refs, timeout=t), timeout)
        except rx.RayError as e:
            raise errors.translate(e) from e
        return [dynamic_value(v, _wrap) for v in values]

    def wait_ids(self, ids_: list[bytes], num_returns: int, timeout: float | None) -> set[bytes]:
        waitables = [_ray_ref(i) for i in ids_]  # refs, and Ray's generators (RayGeneratorId)
        def attempt(t: float | None) -> list:
            ready, _ = ray.wait(waitables, num_returns=num_returns, timeout=t)
            if len(ready) < num_returns and t is not None and t < _left(deadline):
                raise rx.GetTimeoutError("not yet")  # this slice is over, the wait is not
            return ready

        deadline = None if timeout is None else time.monotonic() + timeout
        ready = _in_slices(attempt, timeout)  # the last slice returns what is ready then
        if num_returns <= len(ready) < len(waitables):
            # Ray picks any num_returns of the ready ones; greenroom's wait() gives the first ones
            # in the caller's order, so it is told every one ready now.
            ready, _ = ray.wait(waitables, num_returns=len(waitables), timeout=0)
        done = {id(r) for r in ready}
        return {i for i, w in zip(ids_, waitables) if id(w) in done}

    def done_ids(self, ids_: list[bytes]) -> set[bytes]:
        if not ids_:
            return set()
        return self.wait_ids(ids_, len(ids_), 0)

    def put(self, value: Any) -> ObjectRef:
        if isinstance(value, ObjectRef):
            raise TypeError("put() of an ObjectRef is not allowed: pass the ref itself, or wrap it in a list")
        try:
            return _wrap(ray.put(value))
        except rx.RayError as e:
            raise errors.translate(e) from e

    def promote_large(self, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        return args, kwargs  # Ray puts large arguments in its object store itself

    def future(self, ref: ObjectRef) -> concurrent.futures.Future:
        source = _ray_ref(ref.id).future()
        out: concurrent.futures.Future = concurrent.futures.Future()

        def done(f: concurrent.futures.Future) -> None:
            try:
                out.set_result(dynamic_value(f.result(), _wrap))
            except BaseException as e:  # delivered to whoever waits on the future
                out.set_exception(errors.translate(e))

        source.add_done_callback(done)
        return out

    async def await_ref(self, ref: ObjectRef) -> Any:
        try:
            return dynamic_value(await _ray_ref(ref.id), _wrap)
        except rx.RayError as e:
            raise errors.translate(e) from e

    def is_canceled(self, task_id: bytes) -> bool:
        return bool(ray.get_runtime_context().is_canceled())

    def _cancel(self, oid: bytes, force: bool) -> None:
        ray.cancel(_ray_ref(oid), force=force)

    # -- placement groups ----------------------------------------------------------------------
    def _create_pg(self, units: list, strategy: str, name: str, detached: bool) -> tuple:
        bundles = options.bundles(units)
        key = (tuple(tuple(sorted(b.items())) for b in bundles), strategy)
        self._unfit.check(key, bundles, strategy, f"placement group {name!r}" if name else "a placement group")
        pg = ray.util.placement_group(bundles, strategy=strategy, name=name,
                                      lifetime="detached" if detached else None)  # fmt: skip
        return pg.id.hex(), RayObjectId(pg.ready())

    def _remove_pg(self, pg_hex: str) -> None:
        ray.util.remove_placement_group(options.ray_placement_group(pg_hex))

    def _get_pg(self, name: str) -> tuple:
        pg = ray.util.get_placement_group(name)
        row = ray.util.placement_group_table(pg)
        return pg.id.hex(), list(pg.bundle_specs), row.get("strategy", "PACK"), RayObjectId(pg.ready())

    # -- the rest ------------------------------------------------------------------------------
    def call(self, method: str, *args: Any) -> Any:
        fn = self._calls.get(method)
        if fn is None:
            raise NotImplementedError(f"{method!r} is not available when greenroom runs on a Ray cluster")
        try:
            return fn(*args)
        except rx.AsyncioActorExit:  # exit_actor() in an async actor: Ray's own signal, for Ray
            raise
        except rx.RayError as e:
            raise errors.translate(e) from e

    def shutdown(self) -> None:
        """The driver disconnects from the cluster (its actors and groups go, as in Ray)."""
        context.set_context_source(None)
        if self.is_driver:
            ray.shutdown()


KILL_WAIT_S = 10.0
# A blocking get() or wait() on Ray waits in slices of at most this long: Ray's wait does not
# return to Python for signals, so without slices Ctrl-C (or a test's timeout) could not stop it.
SLICE_S = 1.0


def _left(deadline: float | None) -> float:
    return float("inf") if deadline is None else deadline - time.monotonic()


def _in_slices(attempt: Any, timeout: float | None) -> Any:
    """``attempt(t)`` (which raises Ray's GetTimeoutError when ``t`` passes) until it returns,
    in slices of at most SLICE_S, within ``timeout`` (None: no limit)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        left = _left(deadline)
        if left <= SLICE_S:
            return attempt(max(left, 0.0))
        try:
            return attempt(SLICE_S)
        except rx.GetTimeoutError:
            continue


def _wait_until_dead(actor_hex: str) -> None:
    """Poll the cluster's actor table (an event Ray does not offer) until the actor is DEAD,
    bounded by KILL_WAIT_S; a kill that takes longer still happens, later."""
    from ray._private import state as ray_state

    deadline = time.monotonic() + KILL_WAIT_S
    while time.monotonic() < deadline:
        try:
            if ray_state.actors(actor_hex).get("State") == "DEAD":
                return
        except Exception:  # advice only: the table may not know it yet, or this Ray may differ
            return
        time.sleep(0.01)


def _current_context() -> context.TaskContext | None:
    """greenroom's TaskContext of the Ray task or actor call running here (None in a driver)."""
    ctx = ray.get_runtime_context()
    task_id = ctx.get_task_id()
    if task_id is None:
        return None
    actor_id = ctx.get_actor_id()
    pg_id = ctx.get_placement_group_id()
    placement = None
    if pg_id is not None:
        pg = options.ray_placement_group(pg_id)
        row = ray.util.placement_group_table(pg)
        bundles = [dict(b) for b in row.get("bundles", {}).values()]
        placement = [pg_id, bundles, row.get("strategy", "PACK"), RayObjectId(pg.ready())]
    return context.TaskContext(
        task_id=bytes.fromhex(task_id), assigned=[ctx.get_assigned_resources(), ray.get_gpu_ids()],
        actor_id=bytes.fromhex(actor_id) if actor_id else None, placement=placement,
        name=ctx.get_task_name() or "", actor_name=ctx.get_actor_name() or None,
    )  # fmt: skip


def install(rt: RayRuntime) -> None:
    context.set_context_source(_current_context)
    state.set_runtime(rt)


def enter_worker() -> None:
    """Inside a Ray worker: greenroom's API here runs on Ray too (once per process). Elsewhere
    (a driver that has disconnected) nothing: greenroom there runs as init() says."""
    if (
        state.current() is None
        and ray.is_initialized()
        and ray.get_runtime_context().worker.mode == ray.WORKER_MODE
    ):
        with state.lock():
            if state.current() is None:
                install(RayRuntime(is_driver=False))


def _object_id(ref: Any) -> RayObjectId:
    enter_worker()
    return RayObjectId(ref)


def _actor_id(handle: Any) -> RayActorId:
    enter_worker()
    return RayActorId(handle)


RayObjectId.rebuild = staticmethod(_object_id)
RayActorId.rebuild = staticmethod(_actor_id)
