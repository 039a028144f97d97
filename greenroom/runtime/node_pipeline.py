"""Part of the Node: sending a worker its next task before the current one ends.

Between two short tasks a worker would otherwise sit idle for a round trip
through the node (DONE in, EXEC out). So while a task runs, the node may take
the next queued task of the same shape as its *follower* and send its EXEC
ahead; the worker reads it as soon as it has reported the first, and the
follower inherits the first task's resources (``Scheduler.hand_over``).

Only short tasks are followed: a follower waits behind its leader, so a long
leader would hold it back while another worker goes idle. The node keeps a
running average of each function's run time and pipelines behind functions
under ``PIPELINE_BELOW_S``. Actors, placement groups and ``max_calls`` tasks
are never pipelined.

Taking a follower back (``RECALL``): the worker reads its socket only between
tasks or while it waits for a reply to a request. A leader that blocks in
``get()``/``wait()`` gives its follower back at once: the worker is inside that
request, so it drops the queued EXEC when the RECALL arrives, before it could
start it. A cancelled follower is different: the worker may already have
started it, so the node waits for the answer (``RECALLED``). The worker looks
for a RECALL behind an EXEC before starting it, so the answer often comes
after the leader's DONE: until it does, the follower holds the leader's
resources as if it ran, and it is interrupted like a running task in case it
does (a worker that runs nothing ignores SIGINT). A dropped EXEC may have
carried its function's code, so the node sends that again next time.

State lives on the Node; this mixin only groups the methods. Loop thread only.
"""

from __future__ import annotations

import os
import signal
from typing import Any

from greenroom.runtime import wire
from greenroom.runtime.worker_pool import WorkerProc

PIPELINE_BELOW_S = 0.005  # pipeline behind functions that usually run shorter than this
RUN_TIME_WEIGHT = 0.25  # weight of the latest run in a function's running average


class Pipelining:
    def _dispatch(self, w: WorkerProc, task: Any) -> None:
        """Start ``task`` on ``w`` and, if it is short, send its follower along."""
        w.started_at = self.loop.time()
        self._send_exec(w, task)
        self._pipeline(w)

    def _pipeline(self, w: WorkerProc) -> None:
        task = w.task
        if task is None or w.next is not None or w.actor is not None or w.exiting or w.transport is None:
            return
        spec = task.spec
        if spec.task_id in self._recalling:  # it may never run: queue nothing behind it
            return
        if spec.max_calls or spec.placement is not None:
            return
        estimate = self._run_time.get(spec.func_id)
        if estimate is None or estimate > PIPELINE_BELOW_S:
            return
        key = self.scheduler.take_follower(spec.task_id, self._can_follow)
        if key is None:
            return
        follower = self.tasks[key]
        follower.worker = w
        follower.assigned = task.assigned
        w.next = follower
        self.sent_ahead += 1
        self._send_exec(w, follower)

    def _can_follow(self, key: bytes) -> bool:
        task = self.tasks.get(key)  # None for an actor's creation, which is queued too
        return task is not None and not task.cancelled and not task.spec.max_calls

    def _note_run_time(self, w: WorkerProc, func_id: bytes, now: float) -> None:
        took = now - w.started_at
        average = self._run_time.get(func_id)
        self._run_time[func_id] = took if average is None else average + RUN_TIME_WEIGHT * (took - average)

    def _hand_over(self, w: WorkerProc, leader_id: bytes, now: float) -> Any:
        """The leader on ``w`` ended: its follower (returned) has started in its place."""
        follower = w.next
        if follower is None:
            self.scheduler.release(leader_id)
            return None
        w.next = None
        self.scheduler.hand_over(leader_id)
        follower.granted = True
        w.task = follower
        w.started_at = now
        cancel = self._recalling.get(follower.spec.task_id)
        if cancel is not None:  # cancelled, its RECALL not answered yet: it may have started
            follower.report_cancelled = True
            if cancel == "force":
                w.kill()
            elif w.pid is not None:
                os.kill(w.pid, signal.SIGINT)
        return follower

    def _detach_follower(self, w: WorkerProc) -> Any:
        """Take ``w``'s follower off it and return it; one being cancelled is finished
        here instead (None is returned)."""
        follower = w.next
        if follower is None:
            return None
        w.next = None
        follower.worker = None
        w.functions.discard(follower.spec.func_id)  # its EXEC may have carried the function
        key = follower.spec.task_id
        if self._recalling.pop(key, None) is not None:
            self.scheduler.drop_follower(key)
            self._finish_cancelled(follower)
            return None
        return follower

    def _recall_follower(self, w: WorkerProc) -> None:
        """``w``'s task is about to block in a request: give its follower back to the queue.
        (A follower already being cancelled has its RECALL on the way: that one drops it.)"""
        follower = self._detach_follower(w)
        if follower is not None:
            key = follower.spec.task_id
            w.send([wire.RECALL, key])
            self.scheduler.recall(key)
            self._schedule()

    def _cancel_follower(self, task: Any, force: bool) -> None:
        self._recalling[task.spec.task_id] = "force" if force else "interrupt"
        task.worker.send([wire.RECALL, task.spec.task_id])

    def _on_recalled(self, w: WorkerProc, task_id: bytes, removed: bool) -> None:
        if task_id not in self._recalling:
            return
        if not removed:  # it ran, and its DONE reports it cancelled
            del self._recalling[task_id]
            return
        if w.next is not None and w.next.spec.task_id == task_id:  # dropped while queued
            self._detach_follower(w)
            return
        del self._recalling[task_id]
        follower = w.task
        if follower is not None and follower.spec.task_id == task_id:  # handed over, never started
            w.task = None
            w.functions.discard(follower.spec.func_id)
            follower.worker = None
            follower.granted = False
            self.scheduler.release(task_id)
            self.pool.release(w)
            self._finish_cancelled(follower)
            self._schedule()

    def _follower_lost(self, w: WorkerProc) -> None:
        """``w`` died with a follower it never started: queue it again, no retry spent."""
        follower = self._detach_follower(w)
        if follower is not None:
            self.scheduler.recall(follower.spec.task_id)
