"""Ray Tune programs run unchanged on greenroom: reporting, trainables, search spaces,
stopping, schedulers, files on disk, reading results back, and progress output.

Every experiment writes under ``tmp_path`` (``storage_path``) and runs quietly
(``verbose=0``) unless output is what the test checks.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest

import greenroom
from greenroom import tune
from greenroom.tune.schedulers import ASHAScheduler
from greenroom.tune.stopper import MaximumIterationStopper


@pytest.fixture(autouse=True)
def started(backend):
    """greenroom on 4 CPUs for each test, shut down after (on Ray: the module's connection)."""
    if backend == "ray":
        yield
        return
    greenroom.init(num_cpus=4)
    yield
    greenroom.shutdown()


def result_lines(trial_dir: str) -> list[dict]:
    with open(os.path.join(trial_dir, "result.json")) as f:
        return [json.loads(line) for line in f if line.strip()]


def quiet(**kwargs) -> dict:
    return {"verbose": 0, **kwargs}


# -- reporting from inside a trial ------------------------------------------------------------


def test_report_forms_and_checkpoint(tmp_path):
    """report(dict), report(**kw) and report(dict, checkpoint=...) are three iterations; the checkpoint is kept."""

    def trainable(config):
        tune.report({"loss": 3.0})
        tune.report(loss=2.0)
        with tempfile.TemporaryDirectory() as d:
            Path(d, "weights.txt").write_text("w=42")
            tune.report({"loss": 1.0}, checkpoint=tune.Checkpoint.from_directory(d))

    analysis = tune.run(trainable, storage_path=str(tmp_path), **quiet())
    (trial,) = analysis.trials
    assert trial.status == "TERMINATED"
    lines = result_lines(trial.path)
    assert [r["loss"] for r in lines] == [3.0, 2.0, 1.0]
    assert [r["training_iteration"] for r in lines] == [1, 2, 3]
    assert trial.checkpoint is not None
    with trial.checkpoint.as_directory() as d:
        assert Path(d, "weights.txt").read_text() == "w=42"
    # The checkpoint was copied out of the temporary directory into the trial's own.
    assert os.path.commonpath([trial.checkpoint.path, trial.path]) == trial.path


def test_context_and_fresh_checkpoint(tmp_path):
    """get_context() names the trial and its directory; get_checkpoint() is None on a fresh trial."""

    def trainable(config):
        ctx = tune.get_context()
        tune.report(
            trial_id=ctx.get_trial_id(), trial_dir=ctx.get_trial_dir(), fresh=tune.get_checkpoint() is None
        )

    analysis = tune.run(trainable, num_samples=2, storage_path=str(tmp_path), **quiet())
    assert len({t.trial_id for t in analysis.trials}) == 2
    for trial in analysis.trials:
        assert trial.last_result["trial_id"] == trial.trial_id
        assert os.path.samefile(trial.last_result["trial_dir"], trial.path)
        assert trial.last_result["fresh"] is True


def test_trials_keep_the_drivers_working_directory(tmp_path):
    """A trial's os.getcwd() is the driver's: Tune does not chdir into the trial directory."""
    analysis = tune.run(lambda config: tune.report(cwd=os.getcwd()), storage_path=str(tmp_path), **quiet())
    assert analysis.trials[0].last_result["cwd"] == os.getcwd()


# -- class trainables -----------------------------------------------------------------------------


class Counter5(tune.Trainable):
    """Counts by config["inc"]; saves the count; marks cleanup in config["marks"]."""

    def setup(self, config):
        self.count = 0
        self.inc = config["inc"]

    def step(self):
        self.count += self.inc
        return {"count": self.count}

    def save_checkpoint(self, checkpoint_dir):
        Path(checkpoint_dir, "count").write_text(str(self.count))
        return checkpoint_dir

    def load_checkpoint(self, checkpoint):
        self.count = int(Path(checkpoint, "count").read_text())

    def cleanup(self):
        Path(self.config["marks"], f"cleanup-{self.trial_id}").touch()


def test_class_trainable_with_checkpoint_freq_and_stop(tmp_path):
    """A tune.Trainable runs setup/step/cleanup; checkpoint_freq=2 and stop at iteration 5."""
    marks = tmp_path / "marks"
    marks.mkdir()
    analysis = tune.run(
        Counter5,
        config={"inc": tune.grid_search([1, 10]), "marks": str(marks)},
        stop={"training_iteration": 5},
        checkpoint_freq=2,
        storage_path=str(tmp_path),
        **quiet(),
    )
    assert len(analysis.trials) == 2
    for trial in analysis.trials:
        assert trial.status == "TERMINATED"
        inc = trial.config["inc"]
        assert [r["count"] for r in result_lines(trial.path)] == [inc * i for i in range(1, 6)]
        assert trial.last_result["training_iteration"] == 5
        saved = sorted(p for p in os.listdir(trial.path) if p.startswith("checkpoint_"))
        assert len(saved) == 2, saved  # after iterations 2 and 4
        assert sorted(int(Path(trial.path, p, "count").read_text()) for p in saved) == [2 * inc, 4 * inc]
        assert (marks / f"cleanup-{trial.trial_id}").exists()


# -- search spaces ----------------------------------------------------------------------------------


def test_grid_search_times_num_samples(tmp_path):
    """A grid of 3 with num_samples=2 is 6 trials: each grid value twice, random domains resampled."""
    space = {
        "a": tune.grid_search([1, 2, 3]),
        "b": tune.uniform(0, 1),
        "c": tune.choice(["x", "y"]),
        "d": tune.randint(0, 100),
        "e": tune.sample_from(lambda spec: spec.config.a * 10),
        "const": "k",
    }
    analysis = tune.run(
        lambda config: tune.report(ok=1), config=space, num_samples=2, storage_path=str(tmp_path), **quiet()
    )
    configs = [t.config for t in analysis.trials]
    assert len(configs) == 6
    assert Counter(c["a"] for c in configs) == {1: 2, 2: 2, 3: 2}
    for c in configs:
        assert 0 <= c["b"] < 1 and c["c"] in ("x", "y") and 0 <= c["d"] < 100
        assert c["e"] == c["a"] * 10 and c["const"] == "k"
    assert len({c["b"] for c in configs}) == 6  # sampled per trial, not once per grid point


# -- stopping -----------------------------------------------------------------------------------------


def counting_forever(config):
    for i in range(1, 1000):
        time.sleep(0.002)
        tune.report(x=i)


class TrialsCreatedAtStart(tune.Callback):
    """Records, as each trial starts, how many trials exist and how many started before it."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, int]] = []

    def on_trial_start(self, iteration, trials, trial, **info) -> None:
        self.seen.append((len(trials), len(self.seen)))


def run_six(tmp_path, **kwargs) -> list[tuple[int, int]]:
    seen = TrialsCreatedAtStart()
    tune.run(
        lambda config: tune.report(ok=1), resources_per_trial={"cpu": 2}, callbacks=[seen],
        storage_path=str(tmp_path), **quiet(**kwargs),
    )  # fmt: skip
    return seen.seen


def test_grid_search_trials_are_all_pending_from_the_start(tmp_path):
    """Grid and random search create their trials up front (Ray: up to 200 pending), so a
    scheduler such as PBT sees the whole population while only some can run."""
    seen = run_six(tmp_path, config={"x": tune.grid_search(list(range(6)))})
    assert seen[0] == (6, 0)


def test_a_searcher_is_asked_for_one_trial_at_a_time(tmp_path):
    """Other search algorithms get one pending trial at a time, so they learn from results first."""
    from greenroom.tune.search import Searcher

    class Counting(Searcher):
        def __init__(self):
            super().__init__()
            self.suggested = 0

        def suggest(self, trial_id):
            if self.suggested >= 6:
                return Searcher.FINISHED
            self.suggested += 1
            return {"x": self.suggested}

    seen = run_six(tmp_path, search_alg=Counting(), num_samples=6)
    assert len(seen) == 6
    assert all(created == started + 1 for created, started in seen), seen


def test_max_pending_trials_from_the_environment(tmp_path, monkeypatch):
    """TUNE_MAX_PENDING_TRIALS_PG caps the pending trials, as in Ray; a bad value is refused."""
    monkeypatch.setenv("TUNE_MAX_PENDING_TRIALS_PG", "1")
    seen = run_six(tmp_path, config={"x": tune.grid_search(list(range(6)))})
    assert all(created == started + 1 for created, started in seen), seen
    monkeypatch.setenv("TUNE_MAX_PENDING_TRIALS_PG", "many")
    with pytest.raises(tune.TuneError, match="TUNE_MAX_PENDING_TRIALS_PG='many'"):
        run_six(tmp_path, config={"x": tune.grid_search([1])})


@pytest.mark.parametrize(
    ("stop", "expected"),
    [
        ({"training_iteration": 3}, 3),
        ({"x": 4}, 4),
        (lambda trial_id, result: result["x"] >= 2, 2),
        (MaximumIterationStopper(max_iter=5), 5),
    ],
    ids=["dict-iteration", "dict-metric", "callable", "MaximumIterationStopper"],
)
def test_stop_criteria(tmp_path, stop, expected):
    """stop as a dict, a function and a tune.stopper.Stopper ends each trial at the expected iteration."""
    analysis = tune.run(counting_forever, stop=stop, num_samples=2, storage_path=str(tmp_path), **quiet())
    for trial in analysis.trials:
        assert trial.status == "TERMINATED"
        assert [r["x"] for r in result_lines(trial.path)] == list(range(1, expected + 1))


def test_time_budget_stops_a_long_experiment(tmp_path):
    """time_budget_s=1.5 ends an experiment whose trials would run for a minute."""

    def slow(config):
        for i in range(1000):
            time.sleep(0.05)
            tune.report(i=i)

    t0 = time.monotonic()
    analysis = tune.run(slow, num_samples=2, time_budget_s=1.5, storage_path=str(tmp_path), **quiet())
    assert time.monotonic() - t0 < 15
    for trial in analysis.trials:
        assert trial.status == "TERMINATED"
        assert 1 <= len(result_lines(trial.path)) < 200


def test_asha_stops_bad_trials_early(tmp_path):
    """ASHAScheduler(max_t=20, grace_period=1, reduction_factor=2) cuts bad trials; the best reaches 20."""

    def trainable(config):
        for i in range(1, 21):
            time.sleep(0.01)
            tune.report(loss=config["q"] + 1.0 / i)

    scheduler = ASHAScheduler(max_t=20, grace_period=1, reduction_factor=2)
    analysis = tune.run(
        trainable,
        config={"q": tune.grid_search(list(range(8)))},
        metric="loss",
        mode="min",
        scheduler=scheduler,
        storage_path=str(tmp_path),
        **quiet(),
    )
    iters = {t.config["q"]: len(result_lines(t.path)) for t in analysis.trials}
    assert all(t.status == "TERMINATED" for t in analysis.trials)
    assert iters[0] == 20, iters
    assert iters[7] < 20, iters
    assert sum(n < 20 for n in iters.values()) >= 4, iters
    assert analysis.best_config == {"q": 0}


# -- files on disk and reading them back -------------------------------------------------------------


def three_reports(config):
    for i in range(3):
        tune.report(loss=config["x"] + i, step=i)
    if config["x"] == 3:
        raise ValueError("x=3 is not allowed")


def test_trial_files_on_disk(tmp_path):
    """Each trial dir has params.json (the config), result.json (a line per report) and progress.csv."""
    analysis = tune.run(
        three_reports,
        config={"x": tune.grid_search([1, 2])},
        name="files",
        storage_path=str(tmp_path),
        **quiet(),
    )
    assert os.path.isdir(tmp_path / "files")
    for trial in analysis.trials:
        assert os.path.dirname(trial.path) == str(tmp_path / "files")
        assert json.loads(Path(trial.path, "params.json").read_text()) == trial.config
        lines = result_lines(trial.path)
        assert [r["step"] for r in lines] == [0, 1, 2]
        assert all(r["config"] == trial.config for r in lines)
        with open(Path(trial.path, "progress.csv"), newline="") as f:
            rows = list(csv.DictReader(f))
        assert [float(r["loss"]) for r in rows] == [trial.config["x"] + i for i in range(3)]
        assert [int(r["training_iteration"]) for r in rows] == [1, 2, 3]


def test_experiment_analysis_from_disk(tmp_path):
    """ExperimentAnalysis(path) reads a finished run back: best config/trial/result, dataframe, statuses."""
    tune.run(
        three_reports,
        config={"x": tune.grid_search([1, 2, 3])},
        name="exp",
        storage_path=str(tmp_path),
        raise_on_failed_trial=False,
        **quiet(),
    )
    analysis = tune.ExperimentAnalysis(str(tmp_path / "exp"), default_metric="loss", default_mode="min")
    assert Counter(t.status for t in analysis.trials) == {"TERMINATED": 2, "ERROR": 1}
    errored = next(t for t in analysis.trials if t.status == "ERROR")
    assert errored.config == {"x": 3} and "x=3 is not allowed" in errored.error
    assert analysis.best_config == {"x": 1}
    assert analysis.best_trial.config == {"x": 1}
    assert analysis.best_result["loss"] == 3  # last result of x=1: 1 + 2
    assert analysis.get_best_config(metric="loss", mode="max") == {"x": 3}
    assert analysis.get_best_config(metric="loss", mode="min", scope="all") == {"x": 1}
    df = analysis.dataframe()
    assert len(df) == 3
    assert sorted(df["config/x"]) == [1, 2, 3]
    assert sorted(df["loss"]) == [3, 4, 5]


def test_tuner_fit_result_grid(tmp_path):
    """Tuner(...).fit() returns a ResultGrid: len, best result, dataframe, and per-Result metrics/config/path."""
    tuner = tune.Tuner(
        three_reports,
        param_space={"x": tune.grid_search([2, 1, 5])},
        tune_config=tune.TuneConfig(metric="loss", mode="min", num_samples=1),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="tuner", verbose=0),
    )
    grid = tuner.fit()
    assert len(grid) == 3
    assert grid.errors == []
    best = grid.get_best_result()
    assert best.config == {"x": 1}
    assert best.metrics["loss"] == 3 and best.metrics["training_iteration"] == 3
    assert os.path.dirname(best.path) == str(tmp_path / "tuner")
    assert os.path.exists(os.path.join(best.path, "result.json"))
    assert list(best.metrics_dataframe["loss"]) == [1, 2, 3]
    assert grid.get_best_result(metric="loss", mode="max").config == {"x": 5}
    df = grid.get_dataframe()
    assert len(df) == 3 and sorted(df["config/x"]) == [1, 2, 5]
    assert sorted(r.config["x"] for r in grid) == [1, 2, 5]


# -- progress output ---------------------------------------------------------------------------------


def test_verbose_0_prints_nothing(tmp_path, capfd):
    """verbose=0: neither the driver nor the trials print anything."""
    tune.run(three_reports, config={"x": tune.grid_search([1, 2])}, storage_path=str(tmp_path), verbose=0)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_verbose_1_prints_a_line_per_trial_event(tmp_path, capsys):
    """verbose=1 without a terminal: one line per trial start and end, none per result."""
    analysis = tune.run(
        three_reports, config={"x": tune.grid_search([1, 2])}, storage_path=str(tmp_path), verbose=1
    )
    lines = capsys.readouterr().out.splitlines()
    for trial in analysis.trials:
        mine = [line for line in lines if trial.trial_id in line]
        assert len([line for line in mine if "start" in line.lower()]) == 1, lines
        assert len([line for line in mine if "TERMINATED" in line]) == 1, lines
        assert len(mine) <= 4, mine  # added, started, completed (and no line per result)
