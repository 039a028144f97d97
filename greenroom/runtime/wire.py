"""Wire messages between the node and its workers (and the zygote).

Every message is a msgpack array whose first item is its type. Object and task
ids are bytes; values are serialized bytes (see serialization.py).

node -> worker
    EXEC    [EXEC, task_id, func_id, func_blob|None, args_blob, deps, num_returns, name, assigned, placement]
            deps: list of [position, kind, payload] filling top-level ObjectRef args
    REPLY   [REPLY, request_id, ok, payload]
    RECALL  [RECALL, task_id]   drop a queued EXEC not started yet (see Node._pipeline)
    EXIT    [EXIT]
worker -> node
    HELLO   [HELLO, PROTOCOL_VERSION, worker_id, pid]
    DONE    [DONE, task_id, kind, payloads, contains, printed, dropped]  kind: VALUE or an error kind;
            contains: ids of refs pickled in the payloads; printed: it wrote to stdout/stderr;
            dropped: HANDLES events for refs the call let go, applied after the result
    REQUEST [REQUEST, request_id, op, args]
    RECALLED [RECALLED, task_id, removed]   answer to RECALL: removed is False if it had started
zygote <-> node (SOCK_SEQPACKET, one message per packet)
    FORK    [FORK, worker_id, env]      -> FORKED [FORKED, worker_id, pid] + fds (sock, out, err)
                                        EXITED [EXITED, pid, code]  (code < 0: killed by signal -code)
"""

PROTOCOL_VERSION = 2

# node -> worker
EXEC = 1
REPLY = 2
EXIT = 3
ACTOR_INIT = 4  # [ACTOR_INIT, actor_id, class_blob, args_blob, deps, assigned, max_concurrency, is_async, class_name, placement]
ACTOR_CALL = 5  # [ACTOR_CALL, task_id, method, args_blob, deps, num_returns, name]
RECALL = 6

# worker -> node
HELLO = 10
DONE = 11
REQUEST = 12
HANDLES = 13  # [HANDLES, events]: [actor_id, +1 | -1 | 0 (pinned for good)] per event
ACTOR_EXIT = 14  # [ACTOR_EXIT]: exit_actor() was called; the process ends next
RECALLED = 15

# zygote
FORK = 20
FORKED = 21
EXITED = 22
SETUP = 23
PRELOAD = 24  # [PRELOAD, [module names]]: greenroom modules every later worker should start with

# Payload kinds: how to read a stored object.
VALUE = 0  # pickled value
TASK_ERROR = 1  # pickled RayTaskError (raised as the cause's type too)
SYSTEM_ERROR = 2  # pickled RayError of another kind, raised as is

# Request ops (worker -> node)
OP_SUBMIT = "submit"
OP_GET = "get"
OP_WAIT = "wait"
OP_PUT = "put"
OP_CANCEL = "cancel"
OP_ACTOR_CALL = "actor_call"  # [actor_id, call]: no reply; failures land in the call's objects
OP_CALL = "call"  # [method name, pickled args]: a Node.api_* method
