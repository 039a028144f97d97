"""Requests from workers and attached drivers (``wire.Request``), served on the node's loop.

Each op goes to the collaborator that answers it; a failure is the reply (or, for
a request sent without waiting, the result of the objects it would have made).
"""

from __future__ import annotations

import asyncio
from typing import Any

from greenroom import exceptions
from greenroom.runtime import serialization, wire
from greenroom.runtime.object_ref import return_ids
from greenroom.runtime.options import STREAMING
from greenroom.runtime.task_spec import TaskSpec


def serve(node: Any, w: Any, request: wire.Request) -> None:
    """Answer ``request`` from ``w`` (a WorkerProc or an attached driver's ClientConn)."""
    op, args = request.op, request.args
    try:
        if op == wire.OP_GET:
            get = wire.GetArgs._make(args)
            node.tasks.pipeline.give_back(w)
            node.gets.request(w, request.request_id, get.ids, len(get.ids), get.timeout, payloads=True)
        elif op == wire.OP_WAIT:
            wait = wire.WaitArgs._make(args)
            node.tasks.pipeline.give_back(w)
            node.gets.request(w, request.request_id, wait.ids, wait.num_returns, wait.timeout, payloads=False)
        elif op == wire.OP_PUT:
            put = wire.PutArgs._make(args)
            node.lifetimes.put(w.id, put.object_id, wire.VALUE, put.payload, put.contains)
        elif op == wire.OP_ACTOR_CALL:
            call = wire.ActorCallArgs._make(args)
            spec = wire.CallSpec._make(call.call)
            node.actors.submit_call(call.actor_id, spec, holder=w.id)
            if spec.generator and spec.generator[0] == STREAMING:
                node.streams.open(spec.task_id, spec.name, w.id, spec.generator[1])
        elif op == wire.OP_BACKPRESSURE:
            node.streams.backpressure(w, request.request_id, *args)
        elif op == wire.OP_SUBMIT:
            spec = TaskSpec.from_wire(wire.TaskMsg._make(args))
            reason = node.scheduler.infeasible_reason(spec.request, spec.placement)
            if reason and request.request_id:
                raise exceptions.TaskUnschedulableError(f"task {spec.name!r}: {reason}")
            node.lifetimes.create_held(return_ids(spec.task_id, spec.num_returns), spec.name, w.id)
            if reason:  # sent without waiting (an attached driver's): the error is its result
                error = exceptions.TaskUnschedulableError(f"task {spec.name!r}: {reason}")
                for oid in return_ids(spec.task_id, spec.num_returns):
                    node.objects.complete(oid, wire.SYSTEM_ERROR, serialization.dumps(error))
                return
            if spec.generator and spec.generator[0] == STREAMING:
                node.streams.open(spec.task_id, spec.name, w.id, spec.generator[1])
            node.tasks.accept(spec)
            node._schedule()
            if request.request_id:
                w.send(wire.Reply(request.request_id, True, None))
        elif op == wire.OP_CALL:
            call = wire.CallArgs._make(args)
            call_args = serialization.loads(call.args_blob)
            if call.method == "create_actor":
                call_args = (call_args[0], w.id, *call_args[2:])  # the owner is this worker
            elif call.method in ("get_actor", "list_named_actors"):  # no namespace: the requester's job's
                namespace = call_args[1] if len(call_args) > 1 else None
                call_args = (call_args[0], namespace or node.jobs.of_process(w.id)["namespace"])
            elif call.method == "create_placement_group":
                call_args = (*call_args[:4], w.id)  # the owner is this worker
            if call.method == "allocate":
                result = node.lifetimes.allocate_for(w.id, *call_args)
            else:
                result = getattr(node, "api_" + call.method)(*call_args)
            if isinstance(result, asyncio.Future):  # done once it is: kill() of a GPU actor
                rid = request.request_id
                result.add_done_callback(lambda _: w.send(wire.Reply(rid, True, None)))
                return
            w.send(wire.Reply(request.request_id, True, result))
    except Exception as e:
        w.send(wire.Reply(request.request_id, False, serialization.dumps(e)))
