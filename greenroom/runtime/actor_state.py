"""An actor's lifecycle as pure logic: events in, decisions out, no I/O.

States: PENDING (waiting for resources or its process) -> ALIVE -> RESTARTING
-> ALIVE ... -> DEAD. Calls go out in submission order; when the process dies
the state decides which calls in flight are retried on the restarted actor
(``max_task_retries``) and which fail.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

PENDING = "PENDING"
ALIVE = "ALIVE"
RESTARTING = "RESTARTING"
DEAD = "DEAD"


@dataclass(slots=True)
class DeathDecision:
    restart: bool
    retry: list = field(default_factory=list)  # call keys to send again, in order
    fail: list = field(default_factory=list)  # call keys that fail now


class ActorState:
    """Where an actor is in its life, and what happens to its calls."""

    def __init__(self, max_restarts: int, max_task_retries: int) -> None:
        self.state = PENDING
        self.max_restarts = max_restarts  # -1: forever
        self.max_task_retries = max_task_retries  # -1: forever
        self.restarts = 0
        self.death_reason: str | None = None
        self.queued: deque = deque()  # calls not yet sent to the process, in order
        self.inflight: dict = {}  # keys sent to the process, in send order (an ordered set)
        self.retries: dict = {}  # key -> retries used so far
        self.retry_limits: dict = {}  # key -> its own max_task_retries (a method's), if any
        self.terminate_when_idle = False

    @property
    def alive(self) -> bool:
        return self.state == ALIVE

    def submit(self, key, max_task_retries: int | None = None) -> None:
        if self.state == DEAD:
            raise ValueError("submit to a dead actor: fail the call instead")
        self.queued.append(key)
        if max_task_retries is not None:
            self.retry_limits[key] = max_task_retries

    def sendable(self, ready=lambda key: True, in_order: bool = True) -> list:
        """Calls that may go to the process now, once ALIVE. ``in_order`` (a sync actor): the
        queued ones up to the first that is not ``ready`` (still waiting for its arguments);
        otherwise (async and threaded actors, as in Ray) every ready one."""
        out: list = []
        if self.state != ALIVE:
            return out
        if in_order:
            while self.queued and ready(self.queued[0]):
                key = self.queued.popleft()
                self.inflight[key] = None
                out.append(key)
            return out
        waiting: deque = deque()
        for key in self.queued:
            if ready(key):
                self.inflight[key] = None
                out.append(key)
            else:
                waiting.append(key)
        self.queued = waiting
        return out

    def cancel_queued(self, key) -> bool:
        """Take a call not sent yet out of the queue; False if it was sent already (or is gone)."""
        try:
            self.queued.remove(key)
        except ValueError:
            return False
        self.retry_limits.pop(key, None)
        return True

    def done(self, key) -> None:
        self.inflight.pop(key, None)
        self.retries.pop(key, None)
        self.retry_limits.pop(key, None)

    def idle(self) -> bool:
        return not self.queued and not self.inflight

    def created(self) -> None:
        if self.state != DEAD:
            self.state = ALIVE

    def constructor_failed(self, reason: str) -> list:
        """The constructor raised: dead for good; every call fails."""
        return self._die(reason)

    def killed(self, reason: str) -> list:
        """kill(no_restart=True), exit_actor(), or out of scope: dead for good."""
        return self._die(reason)

    def process_died(self, reason: str, allow_restart: bool = True) -> DeathDecision:
        """The process ended unexpectedly (or kill(no_restart=False))."""
        if self.state == DEAD:
            return DeathDecision(restart=False)
        can_restart = allow_restart and (self.max_restarts < 0 or self.restarts < self.max_restarts)
        if not can_restart:
            return DeathDecision(restart=False, fail=self._die(reason))
        self.restarts += 1
        self.state = RESTARTING
        retry, fail = [], []
        for key in self.inflight:
            used = self.retries.get(key, 0)
            limit = self.retry_limits.get(key, self.max_task_retries)
            if limit < 0 or used < limit:
                self.retries[key] = used + 1
                retry.append(key)
            else:
                self.retries.pop(key, None)
                fail.append(key)
        self.inflight.clear()
        # Retried calls go first, in their original order, then the never-sent ones.
        self.queued.extendleft(reversed(retry))
        return DeathDecision(restart=True, retry=retry, fail=fail)

    def _die(self, reason: str) -> list:
        self.state = DEAD
        self.death_reason = reason
        failed = list(self.inflight) + list(self.queued)
        self.inflight.clear()
        self.queued.clear()
        self.retries.clear()
        self.retry_limits.clear()
        return failed
