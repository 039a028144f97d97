"""The core public API: init, shutdown, get, wait, put, cancel, resources, context."""

from __future__ import annotations

import atexit
import itertools
import logging
import operator
from typing import Any, Sequence

from greenroom import _config as config
from greenroom.runtime import head_files, limits, state
from greenroom.runtime.accelerators import accelerator_type_of
from greenroom.runtime.generators import ObjectRefGenerator
from greenroom.runtime.limits import NodeEnforcement, parse_enforce
from greenroom.runtime.options import env_vars_of
from greenroom.runtime.object_ref import ObjectRef
from greenroom.scheduler.resources import ACCELERATOR_TYPE_PREFIX

logger = logging.getLogger("greenroom")

_NOT_HONOURED = {
    "local_mode": (False,),
    "_system_config": (None, {}),
    "storage": (None,),
    "configure_logging": (True, False),  # greenroom configures no logger either way
}
_ACCEPTED = {"configure_logging", "logging_config", "logging_format", "log_to_driver"}  # logging set-up: ours


class InitContext(dict):
    """What ``init()`` returns: a dict with Ray's keys (``address_info``, ``dashboard_url``)."""

    def __enter__(self) -> InitContext:
        return self

    def __exit__(self, *exc: Any) -> None:
        shutdown()


def _check_amount(name: str, value: Any, integral: bool = False) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"init({name}={value!r}): expected a number, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"init({name}={value!r}): expected a non-negative number")
    if integral and value != int(value):
        raise ValueError(f"init({name}={value!r}): expected a whole number")


def init(
    address: str | None = None,
    *,
    num_cpus: float | None = None,
    num_gpus: int | None = None,
    resources: dict[str, float] | None = None,
    object_store_memory: int | None = None,
    ignore_reinit_error: bool = False,
    include_dashboard: bool | None = None,
    dashboard_host: str = "127.0.0.1",
    dashboard_port: int | None = None,
    log_to_driver: bool = True,
    logging_level: int | str = logging.INFO,
    namespace: str | None = None,
    _memory: int | None = None,
    cpu_affinity: bool = False,
    _enforce: bool | dict[str, bool] = True,
    _memory_usage_threshold: float | None = None,
    _memory_monitor_refresh_ms: int | None = None,
    **kwargs: Any,
) -> InitContext:
    """Start greenroom on this machine (or return the running instance).

    Args:
        address: None or "local" starts a node in this process; "auto" attaches to the
            head running on this machine (``greenroom start --head``), as does a path to the
            head's socket. ``"ray://HOST:PORT"`` (Ray Client) or ``"ray:HOST:PORT"`` (a Ray
            GCS address) routes the whole API to that Ray cluster instead (needs ``pip install
            'greenroom[ray]'``). When None, $GREENROOM_ADDRESS, then $RAY_ADDRESS, may name either.
        num_cpus: CPUs to schedule with (default: this machine's cores).
        num_gpus: GPUs to schedule with (default: what NVML finds; 0 without
            NVML). A number above the real count is allowed; tasks then get
            ids of GPUs that don't exist.
        resources: custom resources, e.g. ``{"accelerator": 2}``.
        object_store_memory: bytes the object store may hold.
        ignore_reinit_error: return the running instance instead of raising.
        include_dashboard: True serves the dashboard from this process, on ``dashboard_host``
            (a loopback address) and ``dashboard_port`` (default 8265, or a free port if that is
            taken; 0 for a free one); ``dashboard_url`` in the result is its address with its
            token. None or False (the default): no dashboard.
        log_to_driver: forward workers' stdout/stderr here, prefixed with their pid.
        namespace: the default namespace for named actors.
        _memory: the node's "memory" resource in bytes (default: this machine's memory).
        cpu_affinity: pin tasks and actors that ask for whole CPUs to distinct cores
            (fractional ones share a core); ``get_cpu_ids()`` says which.
        _enforce: True (default), False, or a dict turning single kinds off, e.g.
            ``{"memory": False}``; kinds: threads, memory, gpu_memory. A task's or
            actor's own ``_enforce=`` option can turn more off for it.
        _memory_usage_threshold: kill a worker when the machine's memory is more
            than this fraction used (default: $RAY_memory_usage_threshold or 0.95).
        _memory_monitor_refresh_ms: how often memory is checked, in ms (default:
            $RAY_memory_monitor_refresh_ms or 100); 0 turns memory enforcement off.

    Raises:
        RuntimeError: already initialized and not ``ignore_reinit_error``.
        ValueError: an argument greenroom cannot honour, or a bad amount.
        ImportError: a Ray address without Ray installed (``pip install 'greenroom[ray]'``).
        ConnectionError: the Ray cluster could not be reached (the message says what to check).
    """
    with state.lock():
        if state.current() is not None:
            if ignore_reinit_error:
                return state.current().init_context
            raise RuntimeError(
                "greenroom.init() was called twice; call shutdown() first, or pass ignore_reinit_error=True"
            )
        cluster = ray_cluster_address(address)
        if cluster is not None:
            given = {"num_cpus": num_cpus, "num_gpus": num_gpus, "resources": resources, "_memory": _memory,
                     "object_store_memory": object_store_memory, "include_dashboard": include_dashboard or None,
                     "cpu_affinity": cpu_affinity or None, "_memory_usage_threshold": _memory_usage_threshold,
                     "_memory_monitor_refresh_ms": _memory_monitor_refresh_ms}  # fmt: skip
            for key, value in given.items():
                if value is not None:
                    raise ValueError(
                        f"init({key}={value!r}) with address={cluster[1]!r}: a Ray cluster's resources and "
                        "limits are set where its nodes start (ray start --num-cpus=... --num-gpus=...), and "
                        "greenroom's enforcement is its own node's; remove the argument"
                    )
            unknown = sorted(set(kwargs) - _ACCEPTED - {"runtime_env"})
            if unknown:
                raise TypeError(f"init() got unexpected argument(s) {unknown}")
            if namespace is not None and not isinstance(namespace, str):
                raise TypeError(f"init(namespace={namespace!r}): expected a string")
            logger.setLevel(logging_level)
            connect = state.backend("ray")
            rt = connect(cluster, namespace=namespace, runtime_env=kwargs.get("runtime_env"),
                         log_to_driver=log_to_driver, logging_level=logging_level)  # fmt: skip
            state.set_runtime(rt)
            return rt.init_context
        env_vars = env_vars_of(kwargs.pop("runtime_env", None), "init()")
        for key, value in kwargs.items():
            if key in _ACCEPTED:
                continue
            if key not in _NOT_HONOURED:
                raise TypeError(f"init() got an unexpected argument {key!r}")
            if value not in _NOT_HONOURED[key]:
                raise ValueError(f"init({key}={value!r}) is not supported by greenroom on one machine; remove it")
        if include_dashboard not in (None, True, False):
            raise TypeError(f"init(include_dashboard={include_dashboard!r}): expected True, False or None")
        if dashboard_port is not None and (isinstance(dashboard_port, bool) or not isinstance(dashboard_port, int)
                                           or not 0 <= dashboard_port <= 65535):  # fmt: skip
            raise ValueError(f"init(dashboard_port={dashboard_port!r}): expected a port number (0 for a free one)")
        dashboard = (dashboard_host, dashboard_port) if include_dashboard else None
        if address is not None and not isinstance(address, str):
            raise TypeError(f"init(address={address!r}): expected a string such as 'auto'")
        if address not in (None, "local", "auto") and not head_files.is_socket_address(address):
            raise ValueError(
                f"init(address={address!r}): expected None or 'local' for a node in this process, 'auto' or "
                "the path of a head's socket for greenroom's head on this machine, 'ray://HOST:PORT' (Ray "
                "Client) or 'ray:HOST:PORT' (a Ray GCS address) for a Ray cluster"
            )
        head = head_files.resolve(address)
        if head is not None:
            given = [k for k, v in (("num_cpus", num_cpus), ("num_gpus", num_gpus), ("resources", resources),
                     ("object_store_memory", object_store_memory), ("_memory", _memory)) if v is not None]  # fmt: skip
            if given:
                raise ValueError(
                    f"init(address={address!r}, {', '.join(given)}=...): the head's resources are set when it "
                    "starts (`greenroom start --head --num-cpus ...`); remove them here"
                )
            if namespace is not None and not isinstance(namespace, str):
                raise TypeError(f"init(namespace={namespace!r}): expected a string")
            if env_vars:
                raise ValueError(
                    f"init(address={address!r}, runtime_env={{'env_vars': ...}}): the head's workers serve every "
                    "driver; set the variables in the environment of `greenroom start --head` instead"
                )
            logger.setLevel(logging_level)
            return _with_dashboard(_attach(head, namespace, log_to_driver), dashboard)
        _check_amount("num_cpus", num_cpus)
        _check_amount("num_gpus", num_gpus, integral=True)
        _check_amount("object_store_memory", object_store_memory, integral=True)
        _check_amount("_memory", _memory, integral=True)
        if resources is not None:
            if not isinstance(resources, dict):
                raise TypeError(f"init(resources={resources!r}): expected a dict of name -> amount")
            for key, amount in resources.items():
                if not isinstance(key, str):
                    raise TypeError(f"init(resources={resources!r}): resource name {key!r} must be a str")
                if not key:
                    raise ValueError(f"init(resources={resources!r}): a resource name must not be empty")
                _check_amount(f"resources[{key!r}]", amount)
            for reserved in ("CPU", "GPU", "memory"):
                if reserved in resources:
                    raise ValueError(f"init(resources=...) may not contain {reserved!r}; use num_cpus/num_gpus/_memory")
        if namespace is not None and not isinstance(namespace, str):
            raise TypeError(f"init(namespace={namespace!r}): expected a string")
        enforcement = _enforcement(cpu_affinity, _enforce, _memory_usage_threshold,
                                   _memory_monitor_refresh_ms)  # fmt: skip
        logger.setLevel(logging_level)
        context = _start_local(num_cpus, num_gpus, resources or {}, _memory, log_to_driver, namespace,
                               object_store_memory, enforcement, env_vars)  # fmt: skip
        return _with_dashboard(context, dashboard)


DEFAULT_DASHBOARD_PORT = 8265  # Ray's


def _with_dashboard(context: InitContext, dashboard: tuple[str, int | None] | None) -> InitContext:
    """With ``dashboard`` (host, port): serve the dashboard beside the node just started; one
    that can't start stops the node again and raises."""
    if dashboard is None:
        return context
    host, port = dashboard
    rt = state.current()
    serve = state.backend("dashboard")
    try:
        try:
            running = serve(host, DEFAULT_DASHBOARD_PORT if port is None else port)
        except RuntimeError:
            if port is not None:
                raise
            running = serve(host, 0)  # Ray's port is taken (another dashboard): any free one
    except BaseException:
        state.set_runtime(None)
        rt.shutdown()
        raise
    rt.dashboard = running
    context["dashboard_url"] = running.url
    print(f"greenroom: the dashboard is at {running.url}", flush=True)
    return context


def ray_cluster_address(address: str | None) -> tuple[str, str] | None:
    """("client", "ray://H:P") or ("gcs", "H:P") when ``address`` (or, if None, $RAY_ADDRESS)
    names a Ray cluster; None for greenroom's own node."""
    if address is None:
        address = config.ray_address()
        if (address is None or address in ("auto", "local") or head_files.is_socket_address(address)
                or head_files.env_address()):  # fmt: skip
            return None  # greenroom's own node (head_files.resolve reads it)
        if not address.startswith("ray:"):
            return ("gcs", address)  # Ray's own form, as `ray job submit` sets it
    if not isinstance(address, str):
        return None
    if address.startswith("ray://"):
        return ("client", address)
    if address.startswith("ray:"):
        return ("gcs", address[len("ray:"):])
    return None


def _enforcement(cpu_affinity: Any, enforce: Any, threshold: Any, refresh_ms: Any) -> NodeEnforcement:
    """init()'s enforcement arguments, checked; environment variables fill what is not given."""
    if not isinstance(cpu_affinity, bool):
        raise TypeError(f"init(cpu_affinity={cpu_affinity!r}): expected True or False")
    mask = parse_enforce(enforce, "init(_enforce=...)", allow_affinity=False) & ~limits.CPU_AFFINITY
    if cpu_affinity:
        mask |= limits.CPU_AFFINITY
    if threshold is None:
        threshold = config.memory_usage_threshold(limits.MEMORY_USAGE_THRESHOLD)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
        raise ValueError(f"memory usage threshold {threshold!r}: expected a fraction in (0, 1], such as 0.95")
    if refresh_ms is None:
        refresh_ms = config.memory_monitor_refresh_ms(limits.MEMORY_REFRESH_MS)
    if isinstance(refresh_ms, bool) or not isinstance(refresh_ms, (int, float)) or refresh_ms < 0:
        raise ValueError(f"memory monitor period {refresh_ms!r} ms: expected a number >= 0 (0 turns it off)")
    return NodeEnforcement(mask, float(threshold), int(refresh_ms))


def _start_local(num_cpus, num_gpus, resources, memory, log_to_driver, namespace, object_store_memory,
                 enforcement, env_vars) -> InitContext:  # fmt: skip
    import uuid

    from greenroom.runtime.driver import DriverRuntime
    from greenroom.runtime.node import Node
    from greenroom.scheduler.resources import ResourceSet

    ip = config.node_ip_address()
    total = {
        "CPU": config.machine_cpus() if num_cpus is None else num_cpus,
        "GPU": config.detect_gpus() if num_gpus is None else int(num_gpus),
        "memory": config.machine_memory() if memory is None else memory,
        f"node:{ip}": 1.0,  # Ray's automatic resources: this node's address, and "the head"
        "node:__internal_head__": 1.0,
        **resources,
    }
    model = accelerator_type_of(config.detect_gpu_name()) if total["GPU"] > 0 else None
    if model is not None:  # Ray's: a node with GPUs of one model has "accelerator_type:<model>": 1
        total.setdefault(ACCELERATOR_TYPE_PREFIX + model, 1.0)
    gpu_names = config.driver_visible_gpus()
    store = object_store_memory or int(config.machine_memory() * 0.3)  # Ray's default share
    job = {
        "namespace": namespace or f"anonymous-{uuid.uuid4().hex[:8]}",
        "job_id": "01000000",
        "node_id": uuid.uuid4().hex + uuid.uuid4().hex[:24],  # 28 bytes in hex, as Ray's node ids
        "node_ip": ip,
    }
    node = Node(
        ResourceSet.from_dict(total), log_to_driver=log_to_driver, gpu_names=gpu_names, store_size=store,
        job=job, preload=["greenroom"],  # workers start with the public API imported
        enforcement=enforcement, env_vars=env_vars,
    )  # fmt: skip
    try:
        node.start()
    except BaseException:
        node.stop()
        raise
    rt = DriverRuntime(node, job)
    rt.job_env_vars = dict(env_vars)  # for get_runtime_context().runtime_env
    rt.init_context = InitContext(
        address_info={"address": "local", "node_id": job["node_id"], "node_ip_address": ip}, dashboard_url=None,
        object_store_memory=object_store_memory,
    )  # fmt: skip
    state.set_runtime(rt)
    return rt.init_context


def _attach(path: str, namespace: str | None, log_to_driver: bool) -> InitContext:
    from greenroom.runtime.attached import AttachedRuntime

    rt = AttachedRuntime(path, namespace, log_to_driver)
    rt.init_context = InitContext(
        address_info={"address": path, "node_id": rt.node_id, "node_ip_address": config.node_ip_address()},
        dashboard_url=None,
    )  # fmt: skip
    state.set_runtime(rt)
    return rt.init_context


def shutdown() -> None:
    """Stop every worker and free everything greenroom holds. Safe to call twice."""
    with state.lock():
        rt = state.current()
        if rt is None or not hasattr(rt, "shutdown"):
            return
        state.set_runtime(None)
        dashboard = getattr(rt, "dashboard", None)
        if dashboard is not None:
            dashboard.stop()
        rt.shutdown()


atexit.register(shutdown)
state.set_starter(init)


def is_initialized() -> bool:
    """True once ``init()`` ran (or inside a worker)."""
    return state.current() is not None


def _as_refs(refs: Any, what: str) -> tuple[list[ObjectRef], bool]:
    if isinstance(refs, ObjectRef):
        return [refs], True
    if isinstance(refs, (list, tuple)):
        if set(map(type, refs)) <= {ObjectRef}:  # C speed for 100k refs; the loop finds the odd one
            return list(refs), False
        for r in refs:
            if not isinstance(r, ObjectRef):
                raise ValueError(f"{what}() expects ObjectRefs, got {type(r).__name__} {r!r:.100} in the list")
        return list(refs), False
    raise ValueError(f"{what}() expects an ObjectRef or a list of ObjectRefs, got {type(refs).__name__} {refs!r:.100}")


def _check_timeout(timeout: Any, what: str) -> None:
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0):
        raise ValueError(f"{what}(timeout={timeout!r}): expected None or a non-negative number of seconds")


def get(object_refs: ObjectRef | Sequence[ObjectRef], *, timeout: float | None = None) -> Any:
    """The value(s) behind ObjectRef(s), waiting until ready.

    Raises:
        RayTaskError: the task raised (also an instance of the original type).
        GetTimeoutError: not ready within ``timeout`` seconds.
        WorkerCrashedError, TaskCancelledError, RaySystemError: see exceptions.

    An ObjectRefGenerator is returned as it is, as in Ray: iterate it for its refs.
    """
    try:
        refs, single = _as_refs(object_refs, "get")
    except ValueError:
        if isinstance(object_refs, ObjectRefGenerator):
            return object_refs
        raise
    _check_timeout(timeout, "get")
    values = state.runtime().get(refs, timeout)
    return values[0] if single else values


def _waitables(object_refs: Any) -> list:
    """The refs and ObjectRefGenerators given to wait(), checked as refs are for get()."""
    if isinstance(object_refs, (list, tuple)):
        _as_refs([r for r in object_refs if not isinstance(r, ObjectRefGenerator)], "wait")
        return list(object_refs)
    return _as_refs(object_refs, "wait")[0]


_ID = operator.attrgetter("id")


def wait(
    object_refs: Sequence[ObjectRef | ObjectRefGenerator],
    *,
    num_returns: int = 1,
    timeout: float | None = None,
    fetch_local: bool = True,
) -> tuple[list, list]:
    """Wait until ``num_returns`` refs are ready or ``timeout`` passes.

    Returns ``(ready, not_ready)``, each in the order of ``object_refs``;
    ``ready`` holds at most ``num_returns`` refs. An ObjectRefGenerator may stand
    among the refs: it is ready when ``next()`` of it would not block.
    """
    if isinstance(object_refs, (ObjectRef, ObjectRefGenerator)):
        raise TypeError("wait() expects a list of ObjectRefs, not a single ObjectRef: wrap it in a list")
    if not isinstance(object_refs, (list, tuple)):
        _as_refs(object_refs, "wait")  # raises: neither a list nor a ref
    waitables = list(object_refs)
    # Refs are keyed by their id: bytes cache their hash, an ObjectRef's __hash__ is Python
    # code, and 10k of those calls were most of a wait() on ready refs. A generator is its own key.
    if set(map(type, waitables)) == {ObjectRef}:
        keys, others = list(map(_ID, waitables)), None
    else:
        keys = [w.id if type(w) is ObjectRef else w for w in waitables]
        others = [k for k in keys if type(k) is not bytes]
        _waitables(others)  # raises on anything that is neither a ref nor a generator
    if len(set(keys)) != len(keys):
        raise ValueError("wait() got the same ObjectRef twice; pass each ref once")
    if isinstance(num_returns, bool) or not isinstance(num_returns, int) or num_returns < 1:
        raise ValueError(f"wait(num_returns={num_returns!r}): expected a positive integer")
    if num_returns > len(waitables):
        raise ValueError(f"wait(num_returns={num_returns}) is more than the {len(waitables)} refs given")
    _check_timeout(timeout, "wait")
    # A generator waits on its next slot; a finished one is ready (its next() returns at once).
    ids = keys if not others else [k if type(k) is bytes else k._wait_id() for k in keys]
    pending = ids if not others else [oid for oid in ids if oid is not None]
    needed = num_returns - (len(ids) - len(pending))
    if needed > 0:
        ready_ids = state.runtime().wait_ids(pending, needed, timeout)
    else:
        ready_ids = state.runtime().wait_ids(pending, len(pending), 0) if pending else set()
    if len(ready_ids) == len(pending):  # all ready: Ray's answer is the first num_returns, in order
        return waitables[:num_returns], waitables[num_returns:]
    if others is None:
        if not ready_ids:
            return [], waitables
        # The ready ones in order, at C speed; ready_ids may be just the first num_returns.
        flags = list(map(ready_ids.__contains__, ids))
        ready = list(itertools.compress(waitables, flags))
        if len(ready) <= num_returns:
            return ready, list(itertools.compress(waitables, map(operator.not_, flags)))
    elif needed > 0 and len(ready_ids) < len(pending):
        # A refs' ready set may stop at the first ``needed``: ask for all of them, to take
        # the first num_returns of refs and finished generators together, in order.
        ready_ids = state.runtime().wait_ids(pending, len(pending), 0)
    ready = []
    not_ready: list = []
    for w, oid in zip(waitables, ids):
        (ready if (oid is None or oid in ready_ids) and len(ready) < num_returns else not_ready).append(w)
    return ready, not_ready


def put(value: Any) -> ObjectRef:
    """Store a value in the object store; returns its ObjectRef."""
    return state.runtime().put(value)


def cancel(object_ref: ObjectRef | ObjectRefGenerator, *, force: bool = False, recursive: bool = True) -> None:
    """Cancel the task behind ``object_ref``: a queued task never runs; a running
    one gets KeyboardInterrupt (``force=True``: its worker is killed). Its
    ``get()`` then raises TaskCancelledError. A generator task stops yielding:
    its ObjectRefGenerator gives the refs so far, then one that raises
    TaskCancelledError."""
    if isinstance(object_ref, ObjectRefGenerator):
        object_ref = object_ref.completed()
    if not isinstance(object_ref, ObjectRef):
        raise TypeError(f"cancel() expects an ObjectRef, got {object_ref!r:.100}")
    state.runtime().call("cancel", object_ref.id, bool(force))


def cluster_resources() -> dict[str, float]:
    """The node's total resources."""
    return state.runtime().call("cluster_resources")


def available_resources() -> dict[str, float]:
    """The node's resources not held by tasks, actors or placement groups right now."""
    return state.runtime().call("available_resources")


def nodes() -> list[dict[str, Any]]:
    """The nodes of this cluster, as Ray describes them (one: this machine)."""
    return state.runtime().call("nodes")


def timeline(filename: str | None = None) -> list[dict[str, Any]] | None:
    """Every finished task, actor creation and actor call (name, worker pid, start, end,
    GPU ids) as Chrome trace events. With ``filename``, written there as JSON (open it in
    chrome://tracing or Perfetto) and None is returned."""
    events = state.runtime().call("timeline")
    if filename is None:
        return events
    import json

    with open(filename, "w") as f:
        json.dump(events, f)
    return None
