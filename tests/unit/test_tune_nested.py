"""Tune's pure check for trials stalled on placement groups of their own (trainers inside trials),
and the PlacementGroupFactory with an empty head bundle that Tuner(trainer) trials use."""

from __future__ import annotations

import pytest

from greenroom.tune import PlacementGroupFactory
from greenroom.tune.execution.nested import stalled, trial_group_name, trial_of_group


def test_an_empty_head_bundle_is_dropped_as_in_ray():
    """[{}, {"CPU": 2}]: the trainable holds nothing, the group is the rest; [{}] alone reserves nothing."""
    pgf = PlacementGroupFactory([{}, {"CPU": 2}])
    assert pgf.head_bundle_is_empty and pgf.head_bundle == {} and pgf.bundles == [{"CPU": 2}]
    assert pgf.has_extra_bundles and pgf.required_resources == {"CPU": 2}
    assert pgf != PlacementGroupFactory([{"CPU": 2}]) and "[{}, {'CPU': 2}]" in repr(pgf)
    with pytest.raises(ValueError, match="reserves nothing"):
        PlacementGroupFactory([{}])


def test_group_names_carry_their_trial():
    name = trial_group_name("abc_00001", "train")
    assert trial_of_group(name) == "abc_00001"
    assert trial_of_group("mine") is None and trial_of_group("") is None


def test_trials_that_all_wait_on_groups_that_cannot_fit_are_stalled():
    """2 trials of 1 CPU on 4 CPUs, each waiting for 3 CPUs: stalled, and 1 trial at a time would do."""
    running = {"t1": {"CPU": 1.0}, "t2": {"CPU": 1.0}}
    groups = [("t1", "PENDING", {"CPU": 3.0}), ("t2", "PENDING", {"CPU": 3.0})]
    message = stalled(running, groups, {"CPU": 4.0, "memory": 1e9})
    assert message is not None
    assert (
        "2 trials are running" in message and "max_concurrent_trials=1" in message and "memory" not in message
    )


@pytest.mark.parametrize(
    "groups",
    [
        [("t1", "PENDING", {"CPU": 2.0}), ("t2", "PENDING", {"CPU": 2.0})],  # one fits in the 2 CPUs left
        [("t1", "PENDING", {"CPU": 3.0}), ("t2", "CREATED", {"CPU": 3.0})],  # one runs: it will end
        [("t1", "PENDING", {"CPU": 3.0})],  # t2 waits on nothing of its own
        [("t1", "PENDING", {"CPU": 3.0}), ("t9", "PENDING", {"CPU": 3.0})],  # t9 is not running
    ],
)
def test_trials_that_can_still_progress_are_not_stalled(groups):
    running = {"t1": {"CPU": 1.0}, "t2": {"CPU": 1.0}}
    assert stalled(running, groups, {"CPU": 4.0}) is None


def test_a_group_that_never_fits_beside_its_one_trial_is_stalled():
    message = stalled({"t1": {"CPU": 2.0}}, [("t1", "PENDING", {"CPU": 3.0})], {"CPU": 4.0})
    assert message is not None and "Not even one trial's group fits" in message
