"""The stream of a streaming generator task as pure logic: slots, backpressure, drops, endings."""

from __future__ import annotations

from greenroom.runtime.stream_state import (
    CONTINUE,
    NOTHING,
    RESUME,
    RESUME_STOP,
    STOP,
    UNLIMITED,
    WAIT,
    StreamState,
)  # fmt: skip


def test_items_fill_slots_in_order_and_the_end_takes_the_next_one():
    """Items go to slots 1, 2, ...; the end lands in the slot after the last item."""
    s = StreamState()
    assert s.yielded(1) and s.yielded(2)
    assert s.produced == 2
    assert s.end() == 3
    assert s.ended and not s.finished


def test_a_retried_task_repeats_its_first_items_and_they_are_dropped():
    """A retry yields items 1..k again: only new items are stored."""
    s = StreamState()
    assert s.yielded(1) and s.yielded(2)
    assert not s.yielded(1) and not s.yielded(2)  # the retry's repeats
    assert s.yielded(3)
    assert not s.yielded(5)  # never out of order


def test_nothing_is_stored_after_the_end():
    """A late item (its actor was killed while it ran) is dropped: the caller saw the end."""
    s = StreamState()
    s.yielded(1)
    assert s.end() == 2
    assert not s.yielded(2)


def test_an_error_is_the_last_item_and_the_end_follows_it():
    """The generator raised: the error takes the next slot, the end the one after."""
    s = StreamState()
    s.yielded(1)
    assert s.raised() == 2
    assert s.end() == 3


def test_without_backpressure_the_producer_never_waits():
    """No limit: every item may be followed by the next."""
    s = StreamState()
    for i in range(1, 100):
        assert s.yielded(i)
        assert s.backpressure(i) == CONTINUE
    assert s.allowed() == UNLIMITED


def test_backpressure_holds_the_producer_n_items_ahead_of_the_caller():
    """With a limit of 2 the producer waits after its 2nd untaken item, and goes on when one is taken."""
    s = StreamState(backpressure=2)
    assert s.allowed() == 2
    s.yielded(1)
    assert s.backpressure(1) == CONTINUE
    s.yielded(2)
    assert s.backpressure(2) == WAIT
    assert s.take(1) == RESUME  # 2 - 1 < 2: it may go on
    assert s.allowed() == 3
    s.yielded(3)
    assert s.backpressure(3) == WAIT
    assert s.take(2) == RESUME
    assert s.take(3) == NOTHING  # nobody waits


def test_taking_too_little_does_not_wake_the_producer():
    """A producer waiting at item 4 with a limit of 2 goes on only once item 3 is taken."""
    s = StreamState(backpressure=2)
    for i in range(1, 5):
        s.yielded(i)
    assert s.backpressure(4) == WAIT
    assert s.take(1) == NOTHING
    assert s.take(2) == NOTHING
    assert s.take(3) == RESUME


def test_dropping_the_generator_releases_what_was_not_taken_and_the_producer():
    """The caller took 1 of 3 items and the pending slot 4: slots 2..4 are released, the producer runs free."""
    s = StreamState(backpressure=3)
    for i in range(1, 4):
        s.yielded(i)
    assert s.backpressure(3) == WAIT
    slots, decision = s.drop(1)  # it took item 1 (the drop says so; the node may not have heard)
    assert list(slots) == [2, 3, 4]
    assert decision == RESUME
    assert s.allowed() == UNLIMITED
    assert not s.yielded(4)  # nobody will read it
    assert s.end() is None  # no end slot either
    assert s.finished


def test_dropping_after_the_end_releases_the_end_slot_too():
    """A finished stream dropped half-read: the untaken items and the END slot go."""
    s = StreamState()
    s.yielded(1)
    s.yielded(2)
    assert s.end() == 3
    slots, decision = s.drop(1)
    assert list(slots) == [2, 3]
    assert decision == NOTHING
    assert s.finished


def test_dropping_after_taking_an_error_end_slot_releases_nothing():
    """The caller took the error in the end slot (a crash after 1 item): nothing is left to release."""
    s = StreamState()
    s.yielded(1)
    assert s.end() == 2
    s.take(1)
    s.take(2)
    slots, _ = s.drop(2)
    assert list(slots) == []


def test_dropping_twice_is_harmless():
    """A second drop (a worker's and its process's end) releases nothing more."""
    s = StreamState()
    s.yielded(1)
    s.drop(0)
    slots, decision = s.drop(0)
    assert list(slots) == [] and decision == NOTHING


def test_cancel_stops_a_waiting_producer_and_any_later_request():
    """cancel(): the waiting producer is answered 'stop', and so is one that asks later."""
    s = StreamState(backpressure=1)
    s.yielded(1)
    assert s.backpressure(1) == WAIT
    assert s.cancel() == RESUME_STOP
    assert s.backpressure(1) == STOP
    assert StreamState(backpressure=1).cancel() == NOTHING  # nobody waited


def test_the_end_forgets_a_waiting_producer():
    """The task ended (its worker died while it waited): nobody is answered later."""
    s = StreamState(backpressure=1)
    s.yielded(1)
    assert s.backpressure(1) == WAIT
    s.end()
    assert s.take(1) == NOTHING
