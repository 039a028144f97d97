"""A streaming generator's stream as pure logic: what was yielded, what the caller took.

A task called with ``num_returns="streaming"`` has one return object, index 0 (its
*completion*: ``ObjectRefGenerator.completed()``), and a stream of *slots*, the objects
``object_id(task_id, i)`` for i = 1, 2, ...:

- slot i holds the i-th yielded value (or, when the generator raised, its error);
- the slot after the last item holds ``END`` when the task succeeded, or the task's error
  when it failed another way (its worker crashed, it was cancelled, its actor died).

Exactly one slot is pending while the task runs: the next one. So the caller always waits
for one object, whatever comes next (an item, an error, the end), and ``get()``, ``wait()``,
``await`` and the deadlock watch work on it unchanged. Slots are held by the caller's process
until it takes them as ObjectRefs, or drops the generator (the rest are then released).

Backpressure (``_generator_backpressure_num_objects=N``): once the producer has yielded N
items the caller has not taken, it waits before computing the next one. A retried task
yields its first items again: they are dropped (``yielded`` says so), as in Ray.

The node feeds events (the methods below) and carries out what they return; nothing here
does I/O.
"""

from __future__ import annotations

UNLIMITED = -1  # what a producer is told when nothing holds it back any more

# What a producer that just sent an item does next (``backpressure``).
CONTINUE = "continue"  # go on computing the next item
WAIT = "wait"  # wait until the caller takes more (answered later, with ``allowed()``)
STOP = "stop"  # the call was cancelled: stop
# What a change means for a producer that is waiting (``take``, ``drop``, ``cancel``, ``end``).
NOTHING = "nothing"
RESUME = "resume"  # answer it: it may go on, up to ``allowed()``
RESUME_STOP = "resume_stop"  # answer it: the call was cancelled


class StreamState:
    """One stream, from the node's point of view; see the module docstring."""

    __slots__ = ("backpressure_limit", "cancelled", "dropped", "ended", "produced", "taken", "waiting")

    def __init__(self, backpressure: int = UNLIMITED) -> None:
        self.produced = 0  # items stored, slots 1..produced
        self.taken = 0  # the last slot the caller took as a ref (an item's)
        self.backpressure_limit = max(0, backpressure)  # 0: none
        self.ended = False  # the task's completion is stored: the slot after the last item is final
        self.dropped = False  # the caller's generator is gone: nothing more is kept
        self.cancelled = False
        self.waiting: int | None = None  # the item after which the producer waits (backpressure)

    # -- the producer --------------------------------------------------------------------
    def yielded(self, index: int) -> bool:
        """Item ``index`` arrived: True to store it in its slot; False to drop it (a retried
        task's repeat, one that comes after the end, or nobody will read it)."""
        if self.ended or self.dropped or index != self.produced + 1:
            return False
        self.produced = index
        return True

    def raised(self) -> int | None:
        """The generator raised (its last error): the slot to store the error in, as one more
        item (Ray's order: the items so far, then the error). None: nobody reads it."""
        index = self.produced + 1
        return index if self.yielded(index) else None

    def backpressure(self, index: int) -> str:
        """The producer sent item ``index`` and asks whether it may go on."""
        if self.cancelled:
            return STOP
        if self._may_go_on(index):
            return CONTINUE
        self.waiting = index
        return WAIT

    def allowed(self) -> int:
        """The last item the producer may send before it asks again (UNLIMITED: no limit)."""
        if self.dropped or not self.backpressure_limit:
            return UNLIMITED
        return self.taken + self.backpressure_limit

    def _may_go_on(self, index: int) -> bool:
        return self.dropped or not self.backpressure_limit or index - self.taken < self.backpressure_limit

    def _release_waiting(self) -> str:
        if self.waiting is None:
            return NOTHING
        if self.cancelled:
            self.waiting = None
            return RESUME_STOP
        if self._may_go_on(self.waiting):
            self.waiting = None
            return RESUME
        return NOTHING

    # -- the caller ----------------------------------------------------------------------
    def take(self, index: int) -> str:
        """The caller took slot ``index`` (an item or an error) as an ObjectRef."""
        self.taken = max(self.taken, index)
        return self._release_waiting()

    def drop(self, taken: int) -> tuple[range, str]:
        """The caller's generator is gone after taking ``taken`` slots: the slots it still
        holds (to release; the pending one is removed), and what the producer does now. A
        producer the caller no longer holds back runs to its end, unread (Ray does too)."""
        if self.dropped:
            return range(0), NOTHING
        self.taken = max(self.taken, taken)
        self.dropped = True
        return range(self.taken + 1, self.produced + 2), self._release_waiting()

    # -- the task ------------------------------------------------------------------------
    def cancel(self) -> str:
        """``cancel()`` was called for the task."""
        self.cancelled = True
        return self._release_waiting()

    def end(self) -> int | None:
        """The task's completion is stored: the slot that says so (END or the task's error),
        or None when nobody will read it."""
        self.ended = True
        self.waiting = None
        return None if self.dropped else self.produced + 1

    @property
    def finished(self) -> bool:
        """Nothing more will happen to this stream: it ended and its caller is gone."""
        return self.ended and self.dropped
