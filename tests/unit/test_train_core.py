"""Train's pure cores, without processes: ScalingConfig's bundles and placement check,
report rounds across ranks, and dataset shards."""

from __future__ import annotations

import pytest

from greenroom.train import ScalingConfig
from greenroom.train._internal.rounds import AskNext, Finished, Report, ReportRounds, RoundComplete, Unequal
from greenroom.train._internal.shards import bounds, split, split_all
from greenroom.train.config import placement_problem
from greenroom.tune import grid_search

# -- ScalingConfig ---------------------------------------------------------------------------------


def test_worker_bundle_defaults_as_ray():
    """1 CPU per worker; {"GPU": 1} with use_gpu (no CPU, as Ray); given resources get GPU 1 added."""
    assert ScalingConfig(num_workers=2).worker_bundle == {"CPU": 1.0}
    assert ScalingConfig(num_workers=2, use_gpu=True).worker_bundle == {"GPU": 1.0}
    assert ScalingConfig(use_gpu=True, resources_per_worker={"CPU": 2}).worker_bundle == {
        "CPU": 2.0,
        "GPU": 1.0,
    }
    assert ScalingConfig(use_gpu=True, resources_per_worker={"GPU": 0.5}).num_gpus_per_worker == 0.5


def test_placement_group_factory_for_a_tune_trial():
    """Tuner(trainer): the coordinator's bundle (1 CPU by default) then one per worker, PACK."""
    pgf = ScalingConfig(num_workers=2).as_placement_group_factory()
    assert pgf.bundles == [{"CPU": 1.0}, {"CPU": 1.0}, {"CPU": 1.0}]
    assert pgf.strategy == "PACK" and not pgf.head_bundle_is_empty
    assert pgf.required_resources == {"CPU": 3.0}
    empty = ScalingConfig(num_workers=2, trainer_resources={"CPU": 0}).as_placement_group_factory()
    assert empty.head_bundle_is_empty and empty.head_bundle == {} and empty.has_extra_bundles
    assert empty.bundles == [{"CPU": 1.0}, {"CPU": 1.0}] and empty.required_resources == {"CPU": 2.0}
    spread = ScalingConfig(num_workers=2, placement_strategy="SPREAD").as_placement_group_factory()
    assert spread.strategy == "SPREAD"


def test_fit_bundles_hold_the_trainer_only_if_asked():
    """fit(): the coordinator is the caller, so only workers' bundles unless trainer_resources is given."""
    assert ScalingConfig(num_workers=2).fit_bundles() == [{"CPU": 1.0}, {"CPU": 1.0}]
    given = ScalingConfig(num_workers=2, trainer_resources={"CPU": 0.5})
    assert given.fit_bundles() == [{"CPU": 0.5}, {"CPU": 1.0}, {"CPU": 1.0}]
    assert ScalingConfig(num_workers=1, trainer_resources={"CPU": 0}).fit_bundles() == [{"CPU": 1.0}]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_workers": 0}, "num_workers=0"),
        ({"num_workers": 1.5}, "num_workers=1.5"),
        (
            {"use_gpu": True, "resources_per_worker": {"GPU": 0}},
            r"use_gpu=True\) but resources_per_worker has GPU=0",
        ),
        ({"resources_per_worker": {"GPU": 1}}, "use_gpu=False"),
        ({"resources_per_worker": {"CPU": 0}}, "reserves nothing"),
        ({"resources_per_worker": {"cpu": 1}}, "'CPU' and 'GPU'"),
        ({"placement_strategy": "PACKED"}, "placement_strategy='PACKED'"),
    ],
)
def test_bad_scaling_configs_fail_at_construction(kwargs, match):
    """Each malformed ScalingConfig raises ValueError naming the field."""
    with pytest.raises(ValueError, match=match):
        ScalingConfig(**kwargs)


def test_accelerator_type_takes_a_sliver_of_the_model_per_worker():
    """As Ray's: each worker's bundle asks for 0.001 of the node resource accelerator_type:<model>."""
    scaling = ScalingConfig(num_workers=2, use_gpu=True, accelerator_type="A100")
    assert scaling.worker_bundle == {"GPU": 1.0, "accelerator_type:A100": 0.001}
    assert scaling.fit_bundles() == [scaling.worker_bundle] * 2
    with pytest.raises(TypeError, match="accelerator_type=''"):
        ScalingConfig(accelerator_type="")


def test_a_search_space_in_a_scaling_config_is_recognised():
    """ScalingConfig(num_workers=tune.grid_search([...])) is accepted as a search space, not validated."""
    assert ScalingConfig(num_workers=grid_search([1, 2])).is_search_space
    assert not ScalingConfig(num_workers=2).is_search_space


def test_placement_problem_names_what_was_asked_and_what_exists():
    """3 GPU workers on 2 GPUs: the message names the config, the node's GPUs, and suggests 2 workers."""
    scaling = ScalingConfig(num_workers=3, use_gpu=True)
    problem = placement_problem(scaling, scaling.fit_bundles(), {"CPU": 4.0, "GPU": 2.0, "memory": 1e9})
    assert "ScalingConfig(num_workers=3, use_gpu=True)" in problem
    assert "{'GPU': 3}" in problem and "{'GPU': 2} in total" in problem and "memory" not in problem
    assert "Lower num_workers to 2" in problem
    assert placement_problem(scaling, scaling.fit_bundles(), {"CPU": 4.0, "GPU": 3.0}) is None


def test_placement_problem_counts_what_the_calling_trial_holds():
    """A trainer in a trial holding 1 of 2 CPUs can place 1 CPU worker, not 2."""
    scaling = ScalingConfig(num_workers=2)
    problem = placement_problem(
        scaling, scaling.fit_bundles(), {"CPU": 2.0}, {"CPU": 1.0}, "the Tune trial t1"
    )
    assert "the Tune trial t1 holds {'CPU': 1}" in problem and "Lower num_workers to 1" in problem
    assert placement_problem(ScalingConfig(num_workers=1), [{"CPU": 1.0}], {"CPU": 2.0}, {"CPU": 1.0}) is None


# -- report rounds ---------------------------------------------------------------------------------


def r(x: int) -> Report:
    return Report({"x": x})


def test_a_round_completes_when_every_rank_reported_with_rank_zeros_metrics_first():
    """Rounds complete in any arrival order; the reports come in rank order; every rank is asked again."""
    rounds = ReportRounds(3)
    assert rounds.start() == [AskNext((0, 1, 2))]
    assert rounds.reported(2, r(20)) == []
    assert rounds.reported(0, r(0)) == []
    assert rounds.waiting_on == [1]
    assert rounds.reported(1, r(10)) == [RoundComplete(0, (r(0), r(10), r(20))), AskNext((0, 1, 2))]
    assert rounds.reported(1, r(11)) == []
    assert rounds.reported(0, r(1)) == []
    decisions = rounds.reported(2, r(21))
    assert decisions[0] == RoundComplete(1, (r(1), r(11), r(21)))


def test_finished_when_every_rank_returned_after_the_same_rounds():
    rounds = ReportRounds(2)
    rounds.reported(0, r(0))
    rounds.reported(1, r(0))
    assert rounds.returned(1) == []
    assert rounds.returned(0) == [Finished(1)]


def test_a_rank_reporting_after_another_returned_is_unequal():
    """Rank 0 reports a second time after rank 1 returned from one report: a clear error naming both."""
    rounds = ReportRounds(2)
    rounds.reported(0, r(0))
    rounds.reported(1, r(0))
    rounds.returned(1)
    (decision,) = rounds.reported(0, r(1))
    assert isinstance(decision, Unequal)
    assert "rank 0 reported 2 times" in decision.message and "rank 1 returned after 1" in decision.message


def test_a_rank_returning_while_another_waits_in_a_report_is_unequal():
    rounds = ReportRounds(2)
    rounds.reported(0, r(0))
    (decision,) = rounds.returned(1)
    assert isinstance(decision, Unequal) and "rank 1 returned after 0" in decision.message
    with pytest.raises(RuntimeError, match="already failed"):
        rounds.returned(0)


def test_an_event_from_a_rank_not_asked_is_a_bug():
    rounds = ReportRounds(2)
    rounds.reported(0, r(0))
    with pytest.raises(RuntimeError, match="before it was asked"):
        rounds.reported(0, r(1))
    with pytest.raises(ValueError, match="rank 5"):
        rounds.returned(5)


# -- dataset shards --------------------------------------------------------------------------------


def test_shards_are_contiguous_and_differ_by_at_most_one():
    """10 items over 4 workers: 3, 3, 2, 2, in order, nothing lost or repeated."""
    assert bounds(10, 4) == [(0, 3), (3, 6), (6, 8), (8, 10)]
    shards = split(list(range(10)), 4)
    assert shards == [[0, 1, 2], [3, 4, 5], [6, 7], [8, 9]]
    assert split(list(range(2)), 3) == [[0], [1], []]
    assert split((1, 2, 3), 2) == [(1, 2), (3,)]


def test_numpy_and_pandas_shards():
    np = pytest.importorskip("numpy")
    pd = pytest.importorskip("pandas")
    a, b = split(np.arange(5), 2)
    assert a.tolist() == [0, 1, 2] and b.tolist() == [3, 4]
    frame = pd.DataFrame({"x": range(4)}, index=[10, 11, 12, 13])
    first, second = split(frame, 2)
    assert first["x"].tolist() == [0, 1] and second.index.tolist() == [12, 13]


def test_split_all_gives_each_rank_every_dataset():
    per_rank = split_all({"train": list(range(4)), "val": [9, 8]}, 2)
    assert per_rank == [{"train": [0, 1], "val": [9]}, {"train": [2, 3], "val": [8]}]
    with pytest.raises(TypeError, match=r"datasets\['it'\] is a generator"):
        split_all({"it": (i for i in range(3))}, 2)
