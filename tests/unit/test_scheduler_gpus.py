"""GPU id assignment: whole devices, fractional packing, release."""

import pytest

from greenroom.scheduler.gpus import GpuPool
from greenroom.scheduler.resources import UNIT

HALF = UNIT // 2


def whole(n):
    return GpuPool({i: UNIT for i in range(n)})


def test_whole_requests_get_distinct_lowest_ids():
    """Whole requests take distinct, completely free ids, lowest first."""
    pool = whole(4)
    assert pool.acquire(2 * UNIT) == ((0, UNIT), (1, UNIT))
    assert pool.acquire(UNIT) == ((2, UNIT),)
    assert pool.acquire(2 * UNIT) is None
    assert pool.acquire(UNIT) == ((3, UNIT),)


def test_halves_share_a_device_then_next():
    """0.5 + 0.5 share id 0; a third 0.5 goes to id 1."""
    pool = whole(2)
    assert pool.acquire(HALF) == ((0, HALF),)
    assert pool.acquire(HALF) == ((0, HALF),)
    assert pool.acquire(HALF) == ((1, HALF),)
    assert pool.free_units() == {0: 0, 1: HALF}


def test_fraction_best_fit_keeps_whole_devices_free():
    """A fraction goes to the fullest device that still fits, sparing free ones."""
    pool = whole(3)
    pool.acquire(7_000)  # id 0 has 0.3 left
    pool.acquire(HALF)  # id 1 has 0.5 left (0.3 does not fit a 0.5)
    assert pool.acquire(2_000) == ((0, 2_000),)
    assert pool.acquire(4_000) == ((1, 4_000),)
    assert pool.acquire(UNIT) == ((2, UNIT),)


def test_fraction_never_spans_two_devices():
    """0.9 GPU free across two devices cannot hold one 0.75 request."""
    pool = whole(2)
    assert pool.acquire(HALF) == ((0, HALF),)
    assert pool.acquire(6_000) == ((1, 6_000),)
    assert pool.free_units() == {0: HALF, 1: 4_000}
    assert pool.acquire(7_500) is None
    assert pool.ever_fits(7_500)
    assert not GpuPool({0: HALF, 1: HALF}).ever_fits(7_500)


def test_whole_request_needs_completely_free_device():
    """A device with any share taken is not given to a whole request."""
    pool = whole(2)
    pool.acquire(1_000)
    assert pool.acquire(2 * UNIT) is None
    assert pool.acquire(UNIT) == ((1, UNIT),)


def test_partial_capacity_devices_never_serve_whole_requests():
    """A bundle owning half a device cannot grant a whole GPU, but can grant 0.5."""
    pool = GpuPool({3: HALF})
    assert not pool.ever_fits(UNIT)
    assert pool.acquire(UNIT) is None
    assert pool.acquire(HALF) == ((3, HALF),)


def test_release_returns_units_and_rejects_double_release():
    """Released units are reusable; releasing twice raises."""
    pool = whole(1)
    grant = pool.acquire(UNIT)
    pool.release(grant)
    assert pool.free_units() == {0: UNIT}
    with pytest.raises(ValueError, match="released twice"):
        pool.release(grant)
    with pytest.raises(ValueError, match="not in this pool"):
        pool.release(((7, 1),))


def test_zero_request_and_ever_fits():
    """0 units is an empty grant; ever_fits ignores what is taken now."""
    pool = whole(2)
    assert pool.acquire(0) == ()
    pool.acquire(2 * UNIT)
    assert pool.ever_fits(2 * UNIT) and not pool.ever_fits(3 * UNIT)
    assert pool.ever_fits(HALF) and not pool.ever_fits(15_000)


def test_bad_requests_and_capacities_raise():
    """Negative or non-whole-above-one requests and bad capacities raise."""
    pool = whole(2)
    with pytest.raises(ValueError, match="must not be negative"):
        pool.acquire(-1)
    with pytest.raises(ValueError, match="whole number"):
        pool.acquire(15_000)
    with pytest.raises(ValueError, match="capacity"):
        GpuPool({0: UNIT + 1})
