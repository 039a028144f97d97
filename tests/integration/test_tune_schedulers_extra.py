"""ResourceChangingScheduler growing a trial's CPUs when others finish, HyperBandForBOHB
halving with real trials, and Repeater averaging repeated trials for its searcher.
"""

from __future__ import annotations

import json
import os
import tempfile

import pytest

import greenroom
from greenroom import tune
from greenroom.tune.schedulers import DistributeResources, HyperBandForBOHB, ResourceChangingScheduler
from greenroom.tune.search import Repeater, Searcher
from greenroom.tune.search.repeater import TRIAL_INDEX


@pytest.fixture(autouse=True)
def started():
    greenroom.init(num_cpus=2)
    yield
    greenroom.shutdown()


def grows(config):
    """Reports the CPUs it holds, checkpointing each step; the short trial ends after two steps,
    the long one once it holds two CPUs (a stop criterion bounds it)."""
    step = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d, open(os.path.join(d, "step.json")) as f:
            step = json.load(f)
    while True:
        step += 1
        cpus = tune.get_context().get_trial_resources().required_resources["CPU"]
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "step.json"), "w") as f:
                json.dump(step, f)
            tune.report({"cpus": cpus, "step": step}, checkpoint=tune.Checkpoint.from_directory(d))
        if (config["short"] and step >= 2) or cpus >= 2:
            return


def test_resource_changing_scheduler_grows_a_trial_when_others_finish(tmp_path):
    """On 2 CPUs two 1-CPU trials share the node; when the short one ends, the other restarts with 2 CPUs
    from its checkpoint, counting on."""
    analysis = tune.run(
        grows, config={"short": tune.grid_search([True, False])},
        scheduler=ResourceChangingScheduler(resources_allocation_function=DistributeResources()),
        stop={"training_iteration": 1000}, storage_path=str(tmp_path), verbose=0,
    )  # fmt: skip
    short, long = sorted(analysis.trials, key=lambda t: not t.config["short"])
    assert [r["cpus"] for r in short.results] == [1, 1]
    cpus = [r["cpus"] for r in long.results]
    assert cpus[-1] == 2 and set(cpus[:-1]) == {1}
    assert [r["step"] for r in long.results] == list(range(1, len(cpus) + 1))  # resumed, not restarted
    assert long.resources == tune.PlacementGroupFactory([{"CPU": 2, "GPU": 0}])


class Steps(tune.Trainable):
    """Scores q per step; a pause saves it (so it resumes where it was)."""

    def step(self):
        return {"score": self.config["q"] * (self.iteration + 1)}

    def save_checkpoint(self, checkpoint_dir):
        return {}


def test_hyperband_for_bohb_halves_brackets(tmp_path):
    """HyperBandForBOHB (max_t=9, eta=3): the largest bracket first; its best go on to 3, then 9."""
    scheduler = HyperBandForBOHB(max_t=9, reduction_factor=3, metric="score", mode="max")
    analysis = tune.run(
        Steps, config={"q": tune.grid_search(list(range(1, 10)))}, scheduler=scheduler,
        storage_path=str(tmp_path), verbose=0,
    )  # fmt: skip
    iterations = {t.config["q"]: len(t.results) for t in analysis.trials}
    assert iterations == {1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 6: 1, 7: 3, 8: 3, 9: 9}
    assert all(t.status == "TERMINATED" for t in analysis.trials)


class Recording(Searcher):
    """Suggests x = 0, 1, 2, ...; records what it is told when trials complete."""

    def __init__(self):
        super().__init__(metric="score", mode="max")
        self.next = 0
        self.completed: dict[str, dict] = {}
        self.suggested: dict[str, int] = {}

    def suggest(self, trial_id):
        self.suggested[trial_id] = self.next
        self.next += 1
        return {"x": self.suggested[trial_id]}

    def on_trial_complete(self, trial_id, result=None, error=False):
        self.completed[trial_id] = result


def test_repeater_averages_the_repeats_for_its_searcher(tmp_path):
    """Repeater(repeat=3) runs each suggestion thrice (index 0..2); the searcher hears their mean."""
    searcher = Recording()

    def trainable(config):
        tune.report(score=10 * config["x"] + config[TRIAL_INDEX])

    analysis = tune.run(
        trainable,
        search_alg=Repeater(searcher, repeat=3),
        num_samples=6,
        storage_path=str(tmp_path),
        verbose=0,
    )
    assert sorted((t.config["x"], t.config[TRIAL_INDEX]) for t in analysis.trials) == [
        (0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)
    ]  # fmt: skip
    assert len(searcher.suggested) == 2
    assert sorted(r["score"] for r in searcher.completed.values()) == [
        1.0,
        11.0,
    ]  # means of 0,1,2 and 10,11,12
    assert set(searcher.completed) == set(searcher.suggested)
