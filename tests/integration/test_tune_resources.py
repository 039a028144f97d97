"""Tune parallelism from resources (seed 000): per-trial CPUs, GPUs, memory, custom
resources and placement groups decide how many trials overlap, and what each sees.

Each trainable times itself: it notes its start, announces itself in a barrier
directory and waits (with a deadline) until ``parties`` trials have announced, so
the expected overlap is reached without racing worker start-up; then it holds its
resources a moment and reports ``{"start": t0, "end": t1}``. Overlap is measured
from those reported intervals.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

import greenroom
import greenroom.util
from greenroom import tune

BARRIER_S = 5.0  # how long a trial waits for the others it should overlap with
HOLD_S = 0.2  # how long it then holds its resources


@pytest.fixture
def start():
    """``start(**init_kwargs)`` starts greenroom for this test; it is shut down after."""

    def _start(**kwargs):
        greenroom.init(**kwargs)
        return greenroom

    yield _start
    greenroom.shutdown()


def overlapping_trainable(directory: str, parties: int):
    """A function trainable that meets ``parties`` others in ``directory`` and reports its interval."""

    def trainable(config):
        t0 = time.time()
        Path(directory, uuid.uuid4().hex).touch()
        deadline = time.monotonic() + BARRIER_S
        while len(os.listdir(directory)) < parties and time.monotonic() < deadline:
            time.sleep(0.01)  # polling files the other trials write, bounded by the deadline
        time.sleep(HOLD_S)
        tune.report(
            {
                "start": t0,
                "end": time.time(),
                "cvd": os.environ.get("CUDA_VISIBLE_DEVICES"),
                "gpu_ids": [str(g) for g in greenroom.get_gpu_ids()],
            }
        )

    return trainable


def barrier_dir(tmp_path: Path) -> str:
    d = tmp_path / f"barrier-{uuid.uuid4().hex[:6]}"
    d.mkdir()
    return str(d)


def intervals(analysis) -> list[tuple[float, float]]:
    return [(t.last_result["start"], t.last_result["end"]) for t in analysis.trials]


def max_overlap(spans: list[tuple[float, float]]) -> int:
    """The most intervals open at one instant (an end at t comes before a start at t)."""
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    now = best = 0
    for _, delta in events:
        now += delta
        best = max(best, now)
    return best


def overlap(a, b) -> bool:
    return a.last_result["start"] < b.last_result["end"] and b.last_result["start"] < a.last_result["end"]


def run_overlapping(tmp_path, parties, num_samples, **kwargs):
    trainable = kwargs.pop("trainable", None) or overlapping_trainable(barrier_dir(tmp_path), parties)
    analysis = tune.run(trainable, num_samples=num_samples, storage_path=str(tmp_path), verbose=0, **kwargs)
    assert len(analysis.trials) == num_samples
    assert all(t.status == "TERMINATED" for t in analysis.trials), [t.status for t in analysis.trials]
    return analysis


# -- CPUs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resources", "num_samples", "expected"),
    [(None, 8, 4), ({"cpu": 2}, 6, 2), ({"cpu": 4}, 3, 1), ({"cpu": 0.5}, 10, 8)],
    ids=["default-1cpu", "2cpu", "4cpu", "half-cpu"],
)
def test_trials_overlap_as_cpus_allow(start, tmp_path, resources, num_samples, expected):
    """On 4 CPUs, trials asking for 1, 2, 4 or 0.5 CPU overlap exactly 4, 2, 1 or 8 at a time."""
    start(num_cpus=4)
    analysis = run_overlapping(tmp_path, expected, num_samples, resources_per_trial=resources)
    assert max_overlap(intervals(analysis)) == expected


def test_with_resources_sets_the_trial_request(start, tmp_path):
    """tune.with_resources(trainable, {"cpu": 2}) runs 2 trials at a time on 4 CPUs."""
    start(num_cpus=4)
    trainable = tune.with_resources(overlapping_trainable(barrier_dir(tmp_path), 2), {"cpu": 2})
    analysis = run_overlapping(tmp_path, 2, 6, trainable=trainable)
    assert max_overlap(intervals(analysis)) == 2


def test_memory_in_resources_per_trial_limits_overlap(start, tmp_path):
    """memory (bytes) is a trial resource: 1 GiB trials on a 2 GiB node run 2 at a time."""
    gib = 1024**3
    start(num_cpus=4, _memory=2 * gib)
    analysis = run_overlapping(tmp_path, 2, 5, resources_per_trial={"cpu": 1, "memory": gib})
    assert max_overlap(intervals(analysis)) == 2


def test_custom_resource_in_resources_per_trial_limits_overlap(start, tmp_path):
    """A custom resource {"lic": 1} per trial, 2 on the node: 2 trials at a time."""
    start(num_cpus=4, resources={"lic": 2})
    analysis = run_overlapping(tmp_path, 2, 5, resources_per_trial={"cpu": 1, "lic": 1})
    assert max_overlap(intervals(analysis)) == 2


@pytest.mark.parametrize(
    ("resources", "named"),
    [({"gpu": 8}, "GPU"), ({"cpu": 5}, "CPU"), ({"cpu": 1, "lic": 1}, "lic")],
)
def test_request_that_can_never_fit_raises_at_once(start, tmp_path, resources, named):
    """A trial request larger than the node raises TuneError naming it, without starting trials."""
    start(num_cpus=4, num_gpus=4)
    t0 = time.monotonic()
    with pytest.raises(tune.TuneError, match=named):
        tune.run(
            lambda config: tune.report(x=1),
            resources_per_trial=resources,
            storage_path=str(tmp_path),
            verbose=0,
        )
    assert time.monotonic() - t0 < 10


# -- GPUs -----------------------------------------------------------------------------------


def test_gpu_trials_get_distinct_devices(start, tmp_path):
    """{"gpu": 1} trials: 4 at a time on 4 GPUs, each sees one id, overlapping ones never share it."""
    start(num_cpus=4, num_gpus=4)
    analysis = run_overlapping(tmp_path, 4, 8, resources_per_trial={"gpu": 1})
    trials = analysis.trials
    assert max_overlap(intervals(analysis)) == 4
    for t in trials:
        cvd = t.last_result["cvd"]
        assert cvd in {"0", "1", "2", "3"}, cvd
        assert t.last_result["gpu_ids"] == [cvd]
    for i, a in enumerate(trials):
        for b in trials[i + 1 :]:
            if overlap(a, b):
                assert a.last_result["cvd"] != b.last_result["cvd"], (a.last_result, b.last_result)


def test_gpu_is_the_scarce_resource(start, tmp_path):
    """{"cpu": 2, "gpu": 1} on 4 CPUs and 1 GPU: one trial at a time, each on GPU 0."""
    start(num_cpus=4, num_gpus=1)
    analysis = run_overlapping(tmp_path, 1, 3, resources_per_trial={"cpu": 2, "gpu": 1})
    assert max_overlap(intervals(analysis)) == 1
    assert [t.last_result["cvd"] for t in analysis.trials] == ["0", "0", "0"]


def test_trials_without_gpu_see_no_devices(start, tmp_path):
    """Trials that ask for no GPU run with CUDA_VISIBLE_DEVICES set to "" on a GPU node."""
    start(num_cpus=4, num_gpus=4)
    analysis = run_overlapping(tmp_path, 2, 2, resources_per_trial={"cpu": 1})
    for t in analysis.trials:
        assert t.last_result["cvd"] == ""
        assert t.last_result["gpu_ids"] == []


def test_half_gpu_trials_share_a_device(start, tmp_path):
    """{"cpu": 1, "gpu": 0.5}: four trials at once on 2 GPUs, each device shared by two of them."""
    start(num_cpus=4, num_gpus=2)
    analysis = run_overlapping(tmp_path, 4, 4, resources_per_trial={"cpu": 1, "gpu": 0.5})
    assert max_overlap(intervals(analysis)) == 4
    cvds = [t.last_result["cvd"] for t in analysis.trials]
    assert Counter(cvds) == {"0": 2, "1": 2}, cvds


# -- placement groups -------------------------------------------------------------------------


@greenroom.remote
def inner_pg():
    pg = greenroom.util.get_current_placement_group()
    return None if pg is None else pg.id.hex()


@greenroom.remote(num_gpus=1)
def inner_gpu():
    return greenroom.get_gpu_ids()


@greenroom.remote(num_cpus=1)
def inner_cpu():
    return os.getpid()


def test_placement_group_factory_runs_inner_tasks_in_the_trial_bundles(start, tmp_path):
    """PlacementGroupFactory([CPU]*3) on 3 CPUs: the trial's remote tasks run in its placement group."""
    start(num_cpus=3)

    def trainable(config):
        own = greenroom.util.get_current_placement_group()
        inner = greenroom.get([inner_pg.remote() for _ in range(2)], timeout=30)
        tune.report(own=None if own is None else own.id.hex(), inner=inner)

    pgf = tune.PlacementGroupFactory([{"CPU": 1}, {"CPU": 1}, {"CPU": 1}])
    analysis = tune.run(
        trainable, num_samples=2, resources_per_trial=pgf, storage_path=str(tmp_path), verbose=0
    )
    assert [t.status for t in analysis.trials] == ["TERMINATED", "TERMINATED"]
    for t in analysis.trials:
        own = t.last_result["own"]
        assert own is not None
        assert t.last_result["inner"] == [own, own]
    assert analysis.trials[0].last_result["own"] != analysis.trials[1].last_result["own"]


def test_inner_task_larger_than_any_bundle_fails_the_trial(start, tmp_path):
    """An inner 1-GPU task in a trial whose bundles have no GPU: the trial errors naming it, no hang."""
    start(num_cpus=4, num_gpus=1)

    def trainable(config):
        tune.report(ids=greenroom.get(inner_gpu.remote(), timeout=40))

    pgf = tune.PlacementGroupFactory([{"CPU": 1}, {"CPU": 1}])
    analysis = tune.run(
        trainable, resources_per_trial=pgf, storage_path=str(tmp_path), verbose=0, raise_on_failed_trial=False
    )
    (trial,) = analysis.trials
    assert trial.status == "ERROR"
    assert "inner_gpu" in trial.error and "GPU" in trial.error, trial.error
    assert "GetTimeoutError" not in trial.error and "timed out" not in trial.error.lower(), trial.error


def test_dict_resources_with_inner_tasks_deadlock_is_reported(start, tmp_path):
    """Two 1-CPU trials on 2 CPUs each waiting on a 1-CPU task: errors pointing at PlacementGroupFactory."""
    start(num_cpus=2)
    directory = barrier_dir(tmp_path)

    def trainable(config):
        Path(directory, uuid.uuid4().hex).touch()
        deadline = time.monotonic() + BARRIER_S
        while len(os.listdir(directory)) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)  # both trials hold their CPU before either asks for more
        tune.report(pid=greenroom.get(inner_cpu.remote(), timeout=40))

    analysis = tune.run(
        trainable,
        num_samples=2,
        resources_per_trial={"cpu": 1},
        storage_path=str(tmp_path),
        verbose=0,
        raise_on_failed_trial=False,
    )
    assert len(analysis.trials) == 2
    for t in analysis.trials:
        assert t.status == "ERROR"
        assert "PlacementGroupFactory" in t.error, t.error


# -- concurrency limits -------------------------------------------------------------------------


class CountingSearcher:
    """Builds a Searcher subclass (of the class given) suggesting x = 0, 1, ... n-1, then FINISHED."""

    @staticmethod
    def make(base, n: int):
        class Counting(base):
            def __init__(self):
                super().__init__()
                self.suggested = 0

            def suggest(self, trial_id):
                if self.suggested >= n:
                    return base.FINISHED
                self.suggested += 1
                return {"x": self.suggested - 1}

        return Counting()


def test_max_concurrent_trials_caps_overlap(start, tmp_path):
    """max_concurrent_trials=2 on 4 CPUs: never more than 2 trials at once, and 2 do overlap."""
    start(num_cpus=4)
    analysis = run_overlapping(tmp_path, 2, 6, max_concurrent_trials=2)
    assert max_overlap(intervals(analysis)) == 2


@pytest.mark.parametrize("module", ["greenroom.tune.search", "greenroom.tune.suggest"])
def test_concurrency_limiter_caps_a_custom_searcher(start, tmp_path, module):
    """ConcurrencyLimiter(searcher, max_concurrent=2), from search and the old suggest path: 2 at a time."""
    import importlib

    search = importlib.import_module(module)
    start(num_cpus=4)
    searcher = search.ConcurrencyLimiter(CountingSearcher.make(search.Searcher, 6), max_concurrent=2)
    analysis = run_overlapping(tmp_path, 2, 6, search_alg=searcher)
    assert sorted(t.config["x"] for t in analysis.trials) == list(range(6))
    assert max_overlap(intervals(analysis)) == 2


@pytest.mark.parametrize("how", ["limiter", "max_concurrent_trials"])
def test_optuna_search_concurrency_is_capped(start, tmp_path, how):
    """OptunaSearch under ConcurrencyLimiter(2) or max_concurrent_trials=2 never runs more than 2 trials."""
    pytest.importorskip("optuna")  # in the test extra, so it runs in CI
    from greenroom.tune.search import ConcurrencyLimiter, OptunaSearch

    start(num_cpus=4)
    searcher = OptunaSearch(metric="end", mode="min")
    kwargs = {"max_concurrent_trials": 2} if how == "max_concurrent_trials" else {}
    if how == "limiter":
        searcher = ConcurrencyLimiter(searcher, max_concurrent=2)
    analysis = run_overlapping(
        tmp_path, 2, 5, search_alg=searcher, config={"x": tune.uniform(0, 1)}, **kwargs
    )
    assert all(0 <= t.config["x"] <= 1 for t in analysis.trials)
    assert max_overlap(intervals(analysis)) == 2
