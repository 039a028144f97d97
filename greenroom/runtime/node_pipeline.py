"""Sending a worker its next task before the current one ends.

Between two short tasks a worker would otherwise sit idle for a round trip
through the node (DONE in, EXEC out). So while a task runs, the node may take
the next queued task of the same shape as its *follower* and send its EXEC
ahead; the worker reads it as soon as it has reported the first, and the
follower inherits the first task's resources (``Scheduler.hand_over``).

Only short tasks are followed: a follower waits behind its leader, so a long
leader would hold it back while another worker goes idle. A running average
of each function's run time decides: functions under ``PIPELINE_BELOW_S`` are
pipelined. Actors, placement groups and ``max_calls`` tasks never are.

Taking a follower back (``RECALL``): the worker reads its socket only between
tasks or while it waits for a reply to a request. A leader that blocks in
``get()``/``wait()`` gives its follower back at once: the worker is inside that
request, so it drops the queued EXEC when the RECALL arrives, before it could
start it. A cancelled follower is different: the worker may already have
started it, so the node waits for the answer (``RECALLED``, see
``Tasks.on_recalled``). The worker looks for a RECALL behind an EXEC before
starting it, so the answer often comes after the leader's DONE: until it does,
the follower holds the leader's resources as if it ran, and it is interrupted
like a running task in case it does (a worker that runs nothing ignores
SIGINT). A dropped EXEC may have carried its function's code, so the node
sends that again next time. Loop thread only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from greenroom.runtime.task_state import FINISH_CANCELLED, INTERRUPT, KILL
from greenroom.runtime.worker_pool import WorkerProc
from greenroom.scheduler.queue import Scheduler

PIPELINE_BELOW_S = 0.005  # pipeline behind functions that usually run shorter than this
RUN_TIME_WEIGHT = 0.25  # weight of the latest run in a function's running average


class Pipeline:
    """Owned by ``Tasks``: followers, and the run-time averages that decide them."""

    def __init__(self, scheduler: Scheduler, records: dict, *, send_exec: Callable, finish_cancelled: Callable,
                 schedule: Callable[[], None]) -> None:  # fmt: skip
        self.scheduler = scheduler
        self.records = records  # Tasks.records, read here: task id -> TaskRecord
        self.send_exec = send_exec
        self.finish_cancelled = finish_cancelled
        self.schedule = schedule
        self._run_time: dict[bytes, float] = {}  # function id -> average run time
        self.sent_ahead = 0  # tasks sent to a busy worker ahead of time, ever

    def lead(self, w: WorkerProc) -> None:
        """``w`` runs a task: if it is short, send the next task of its shape along."""
        task = w.task
        if task is None or w.next is not None or w.actor is not None or w.exiting or not w.ready:
            return
        spec = task.spec
        if task.state.recalling:  # it may never run: queue nothing behind it
            return
        if spec.max_calls or spec.placement is not None:
            return
        estimate = self._run_time.get(spec.func_id)
        if estimate is None or estimate > PIPELINE_BELOW_S:
            return
        key = self.scheduler.take_follower(spec.task_id, lambda k: self._can_follow(k, spec.env_vars))
        if key is None:
            return
        follower = self.records[key]
        follower.state.follow()
        follower.worker = w
        follower.assigned = task.assigned
        w.next = follower
        self.sent_ahead += 1
        self.send_exec(w, follower)

    def _can_follow(self, key: bytes, env_vars: Any) -> bool:
        task = self.records.get(key)  # None for an actor's creation, which is queued too
        return (task is not None and task.state.can_follow() and not task.spec.max_calls
                and task.spec.env_vars == env_vars)  # its worker was started with the leader's  # fmt: skip

    def note_run_time(self, w: WorkerProc, func_id: bytes, now: float) -> None:
        took = now - w.started_at
        average = self._run_time.get(func_id)
        self._run_time[func_id] = took if average is None else average + RUN_TIME_WEIGHT * (took - average)

    def hand_over(self, w: WorkerProc, leader_id: bytes, now: float, release: bool = True) -> Any:
        """The leader on ``w`` ended: its follower (returned) has started in its place. Without a
        follower the leader's resources are released, unless ``release`` is False (the caller will)."""
        follower = w.next
        if follower is None:
            if release:
                self.scheduler.release(leader_id)
            return None
        w.next = None
        self.scheduler.hand_over(leader_id)
        w.task = follower
        follower.started_at = w.started_at = now
        stop = follower.state.handed_over()
        if stop == KILL:
            w.kill()
        elif stop == INTERRUPT:
            w.interrupt()
        return follower

    def give_back(self, w: WorkerProc) -> None:
        """``w``'s task is about to block in a request (or its follower was dropped on a
        cancel's RECALL): the follower goes back to the queue, or ends if cancelled."""
        follower = self._detach(w)
        if follower is None:
            return
        key = follower.spec.task_id
        if follower.state.follower_back() == FINISH_CANCELLED:  # its RECALL is on the way already
            self.scheduler.drop_follower(key)
            self.finish_cancelled(follower)
            return
        w.recall(key)
        self.scheduler.recall(key)
        self.schedule()

    def follower_lost(self, w: WorkerProc) -> None:
        """``w`` died with a follower it never started: queue it again, no retry spent."""
        follower = self._detach(w)
        if follower is None:
            return
        if follower.state.follower_back() == FINISH_CANCELLED:
            self.scheduler.drop_follower(follower.spec.task_id)
            self.finish_cancelled(follower)
        else:
            self.scheduler.recall(follower.spec.task_id)
        self.schedule()

    @staticmethod
    def _detach(w: WorkerProc) -> Any:
        follower = w.next
        if follower is not None:
            w.next = None
            follower.worker = None
            w.functions.discard(follower.spec.func_id)  # its EXEC may have carried the function
        return follower
