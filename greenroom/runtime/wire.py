"""Every message between the node, its workers and the zygote, with named fields.

A message is a ``NamedTuple`` whose last field, ``tag``, says its type (it has
that type's default, so a message is built by its fields alone). msgpack packs
a tuple as an array, so a message is sent as it is and read back with
``decode``. Object and task ids are bytes;
values are serialized bytes (see serialization.py) or, for large values, a
shared-memory reference (see object_store.py).

The handshake: a worker's first message is HELLO with its protocol version.
The node gives a worker work only after a HELLO with its own version, within
``HELLO_DEADLINE_S`` of the fork; a different version means the workers run
another greenroom than the driver, and the node says so and stops.
"""

from __future__ import annotations

from typing import Any, NamedTuple

PROTOCOL_VERSION = 7
HELLO_DEADLINE_S = 60.0

# Type tags. node -> worker
EXEC = 1
REPLY = 2
EXIT = 3
ACTOR_INIT = 4
ACTOR_CALL = 5
RECALL = 6
CANCEL_CALL = 7
# worker -> node
HELLO = 10
DONE = 11
REQUEST = 12
HANDLES = 13
ACTOR_EXIT = 14
RECALLED = 15
YIELDED = 16
# zygote <-> node (SOCK_SEQPACKET, one message per packet)
FORK = 20
FORKED = 21
EXITED = 22
SETUP = 23
PRELOAD = 24
ADD_PATH = 25
# attached driver <-> head (node_clients.py)
ATTACH = 30
WELCOME = 31
REFUSED = 32
OUTPUT = 33

# Payload kinds: how to read a stored object.
VALUE = 0  # pickled value
TASK_ERROR = 1  # pickled RayTaskError (raised as the cause's type too)
SYSTEM_ERROR = 2  # pickled RayError of another kind, raised as is
END = 3  # a streaming generator's slot after its last item: the stream ended (never decoded)

# Request ops (worker -> node, in Request.op)
OP_SUBMIT = "submit"  # args: TaskMsg
OP_GET = "get"  # args: GetArgs
OP_WAIT = "wait"  # args: WaitArgs
OP_PUT = "put"  # args: PutArgs; no reply
OP_ACTOR_CALL = "actor_call"  # args: ActorCallArgs; no reply: failures land in the call's objects
OP_CALL = "call"  # args: CallArgs, a named node API method
OP_BACKPRESSURE = "backpressure"  # args: [task_id, index]; answered once the caller took enough items


# -- node -> worker ------------------------------------------------------------------------
class Exec(NamedTuple):
    """Run a task. ``deps`` fill its top-level ObjectRef arguments: [position, kind, payload]."""

    task_id: bytes
    func_id: bytes
    func_blob: bytes | None  # None when the worker has this function already
    args_blob: bytes
    deps: list
    num_returns: int
    name: str
    assigned: list  # [resources as {name: amount}, gpu ids, cpu ids or None]
    placement: list | None  # PlacementInfo of the group it runs in
    capture: bool  # its own tasks and actors go to that group too, unless they say otherwise
    enforce: int  # what to enforce on it: a mask of limits.THREADS, CPU_AFFINITY, MEMORY, GPU_MEMORY
    generator: list | None  # [num_returns mode ("streaming" | "dynamic"), backpressure] of a generator task
    job: dict | None  # the job (namespace, job_id) it runs for; None: the same as the last Exec's
    tag: int = EXEC


class Reply(NamedTuple):
    """The answer to a worker's Request."""

    request_id: int
    ok: bool
    payload: Any  # the result, or a pickled exception when not ok
    tag: int = REPLY


class Recall(NamedTuple):
    """Drop a task sent ahead if it has not started (see node_pipeline.py); answer Recalled."""

    task_id: bytes
    tag: int = RECALL


class Exit(NamedTuple):
    """Exit after the current call (max_calls reached, an actor going out of scope)."""

    tag: int = EXIT


class ActorInit(NamedTuple):
    """Become this actor: construct the instance; its DONE carries ``actor_id``."""

    actor_id: bytes
    class_blob: bytes
    args_blob: bytes
    deps: list
    assigned: list
    max_concurrency: int
    is_async: bool
    class_name: str
    placement: list | None
    actor_name: str | None  # its name, if it was given one
    restarts: int  # how many times it was restarted before this process
    capture: bool  # its tasks and actors go to its placement group, unless they say otherwise
    concurrency_groups: dict  # group name -> how many of its calls may run at once
    enforce: int  # as Exec.enforce, for the actor's whole life
    job: dict  # the job (namespace, job_id) of the driver whose work created it, for its whole life
    tag: int = ACTOR_INIT


class ActorCall(NamedTuple):
    """Run one method call on the actor this worker hosts."""

    task_id: bytes
    method: str
    args_blob: bytes
    deps: list
    num_returns: int
    name: str
    group: str | None  # its concurrency group (None: the default group)
    generator: list | None  # [mode, backpressure] of a generator method (see Exec)
    tag: int = ACTOR_CALL


class CancelCall(NamedTuple):
    """cancel() of an actor call: an async actor cancels it, a sync one lets it poll is_canceled()."""

    task_id: bytes
    tag: int = CANCEL_CALL


# -- worker -> node ------------------------------------------------------------------------
class Hello(NamedTuple):
    """The worker is up and ready for work; first message on its socket."""

    version: int
    worker_id: int
    pid: int
    tag: int = HELLO


class Done(NamedTuple):
    """A call finished. ``kind``: VALUE or an error kind, or a list of one per return (a generator
    that raised part-way: VALUEs, then TASK_ERRORs). ``contains``: ids of refs pickled
    in the payloads. ``printed``: it wrote to stdout/stderr (forward that first).
    ``dropped``: reference events for refs the call let go, applied after the result."""

    task_id: bytes
    kind: int | list
    payloads: list
    contains: list
    printed: bool
    dropped: list
    tag: int = DONE


class Yielded(NamedTuple):
    """A generator task yielded its ``index``-th value (from 1): stored as object
    ``object_id(task_id, index)`` before the call's DONE. ``held``: the worker holds a ref to it
    (``num_returns="dynamic"``); otherwise it belongs to the task's stream (node_streams.py)."""

    task_id: bytes
    index: int
    kind: int
    payload: Any
    contains: list
    held: bool
    tag: int = YIELDED


class Request(NamedTuple):
    """A worker asks the node something (one of the OP_* ops); ``request_id`` 0: no reply."""

    request_id: int
    op: str
    args: Any
    tag: int = REQUEST


class Handles(NamedTuple):
    """Reference events: [kind (handles.ACTOR | OBJECT), id, +1 | -1 | 0 (actor pinned for good)]."""

    events: list
    tag: int = HANDLES


class ActorExiting(NamedTuple):
    """The actor ends itself (exit_actor(), __ray_terminate__); its process ends next."""

    reason: str
    tag: int = ACTOR_EXIT


class Recalled(NamedTuple):
    """Answer to Recall: ``removed`` is False if the task had started."""

    task_id: bytes
    removed: bool
    tag: int = RECALLED


# -- zygote <-> node -----------------------------------------------------------------------
class Setup(NamedTuple):
    """Once, first: the driver's sys.path, the object store (fd, size), modules to import,
    and the job (namespace, job_id, node_id) the workers serve."""

    path: list
    store: list | None
    preload: list
    job: dict
    tag: int = SETUP


class Fork(NamedTuple):
    """Start a worker with this environment; answered by Forked plus fds (sock, out, err)."""

    worker_id: int
    env: dict
    tag: int = FORK


class Forked(NamedTuple):
    worker_id: int
    pid: int
    tag: int = FORKED


class Exited(NamedTuple):
    """A worker was reaped; ``code`` < 0: killed by signal -code."""

    pid: int
    code: int
    tag: int = EXITED


class Preload(NamedTuple):
    """greenroom modules every later worker should start with (imported in the zygote)."""

    modules: list
    tag: int = PRELOAD


class AddPath(NamedTuple):
    """Directories to put on every later worker's sys.path (an attached driver's)."""

    path: list
    tag: int = ADD_PATH


# -- attached driver <-> head ------------------------------------------------------------------
class Attach(NamedTuple):
    """A client's first message on the head's socket. ``role``: "driver" (a job) or
    "observer" (``greenroom status``: not a job, owns nothing)."""

    version: int
    pid: int
    namespace: str | None
    path: list  # its sys.path and working directory: workers import its modules
    role: str
    tag: int = ATTACH


class Welcome(NamedTuple):
    """Answer to Attach; the object store's file descriptor comes with it (SCM_RIGHTS)."""

    process: int  # its id on the node: it mints its task ids and holds its refs
    job: dict  # namespace, job_id, node_id, node_ip
    store_size: int
    head_pid: int
    tag: int = WELCOME


class Refused(NamedTuple):
    """The head will not serve this client (a protocol mismatch, a bad first message)."""

    reason: str
    tag: int = REFUSED


class Output(NamedTuple):
    """Lines a worker printed while it ran work this driver owns (``stream``: 1 or 2)."""

    stream: int
    pid: int
    lines: list
    tag: int = OUTPUT


# -- request arguments and specs -------------------------------------------------------------
class GetArgs(NamedTuple):
    ids: list
    timeout: float | None


class WaitArgs(NamedTuple):
    ids: list
    num_returns: int
    timeout: float | None


class PutArgs(NamedTuple):
    object_id: bytes
    payload: Any
    contains: list


class CallArgs(NamedTuple):
    method: str  # a method of the node's API (Node.api_<method>)
    args_blob: bytes  # the pickled argument tuple


class CallSpec(NamedTuple):
    """An actor method call on its way to the node."""

    task_id: bytes
    method: str
    args_blob: bytes
    deps: list  # [[position, object_id], ...] top-level ObjectRef arguments
    num_returns: int
    name: str
    pins: list  # ids of actors whose handles travel in the arguments
    ref_pins: list  # ids of objects whose refs travel nested in the arguments
    group: str | None  # its concurrency group
    max_task_retries: int | None  # None: the actor's
    generator: list | None  # [mode, backpressure] of a generator method, else None


class ActorCallArgs(NamedTuple):
    actor_id: bytes
    call: CallSpec


class TaskMsg(NamedTuple):
    """A task on its way from a worker to the node (TaskSpec.to_wire)."""

    task_id: bytes
    name: str
    func_id: bytes
    func_blob: bytes | None
    args_blob: bytes
    deps: list
    num_returns: int
    request: dict  # resource name -> fixed-point units
    placement: list | None  # [pg_id, bundle_index]
    max_retries: int
    retry_exceptions: Any  # bool, or the pickled tuple of exception types
    max_calls: int
    pins: list
    ref_pins: list
    capture: bool
    generator: list | None  # [mode, backpressure] of a generator task, else None
    enforce: int = 15  # the task's own _enforce mask, limits.ALL by default (the node ANDs it with its own)
    env_vars: list | None = None  # its runtime_env's env_vars as [name, value] pairs; None: its caller's


class ActorSpec(NamedTuple):
    """An actor to create, as the caller describes it."""

    actor_id: bytes
    class_name: str
    class_blob: bytes
    args_blob: bytes
    deps: list
    request: dict  # resource name -> fixed-point units
    placement: list | None
    max_restarts: int
    max_task_retries: int
    max_concurrency: int
    is_async: bool
    name: str | None
    namespace: str | None  # None: the job's
    detached: bool
    methods: dict  # method name -> its options (actors/methods.py)
    pins: list
    ref_pins: list
    capture: bool  # its tasks and actors run in its placement group by default
    concurrency_groups: dict  # group name -> how many of its calls may run at once
    max_pending_calls: int  # -1: no limit
    enforce: int = 15  # the actor's own _enforce mask, limits.ALL by default (the node ANDs it with its own)
    env_vars: list | None = None  # its runtime_env's env_vars as [name, value] pairs; None: its creator's


class PlacementInfo(NamedTuple):
    """What a task learns of the placement group it runs in (get_current_placement_group)."""

    pg_id: str
    bundles: list
    strategy: str
    ready_id: bytes


TYPES: dict[int, type] = {
    cls._field_defaults["tag"]: cls
    for cls in (Exec, Reply, Recall, Exit, ActorInit, ActorCall, CancelCall, Hello, Done, Yielded, Request,
                Handles, ActorExiting, Recalled, Setup, Fork, Forked, Exited, Preload, AddPath, Attach, Welcome,
                Refused, Output)
}  # fmt: skip


def decode(msg: list) -> Any:
    """A received message (a list) as its named type. (``tuple.__new__`` is ``_make``
    without its length check: a peer that passed the HELLO check speaks this protocol.)"""
    return tuple.__new__(TYPES[msg[-1]], msg)
