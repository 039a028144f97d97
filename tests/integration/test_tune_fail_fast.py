"""Fail-fast as in Ray: ``fail_fast=True`` stops the experiment at the first trial error and
returns the results with the error recorded; only ``fail_fast="raise"`` re-raises, with the
trial's own exception. Results' errors are the trials' exceptions, read back from error.pkl.
"""

from __future__ import annotations

import pytest

import greenroom
from greenroom import tune


class Boom(ValueError):
    """The trainable's own exception type."""


def fails_on_2(config):
    tune.report(x=config["x"])
    if config["x"] == 2:
        raise Boom(f"x is {config['x']}")
    for i in range(50):  # the others run long enough to be stopped by fail_fast
        tune.report(x=config["x"], i=i)


@pytest.fixture(autouse=True)
def started():
    """greenroom on 2 CPUs: two trials at a time, so some wait when the first fails."""
    greenroom.init(num_cpus=2)
    yield
    greenroom.shutdown()


def tuner(tmp_path, fail_fast, name="ff") -> tune.Tuner:
    return tune.Tuner(
        fails_on_2,
        param_space={"x": tune.grid_search([2, 1, 3, 4])},
        run_config=tune.RunConfig(
            name=name,
            storage_path=str(tmp_path),
            verbose=0,
            failure_config=tune.FailureConfig(fail_fast=fail_fast),
        ),  # fmt: skip
    )


def test_fail_fast_stops_at_the_first_error_and_fit_returns_it(tmp_path):
    """fail_fast=True: fit() returns; the failed trial's error is its own exception; nothing else ran on."""
    grid = tuner(tmp_path, True).fit()
    assert grid.num_errors == 1
    (error,) = grid.errors
    assert isinstance(error, Boom) and isinstance(error, greenroom.exceptions.RayTaskError)
    assert "x is 2" in str(error)
    statuses = sorted(r._trial.status for r in grid)
    assert statuses == ["ERROR", "TERMINATED", "TERMINATED", "TERMINATED"]
    assert all(len(r.metrics_dataframe) < 51 for r in grid)  # no trial ran to its end
    # Read back from disk, the error is the same exception.
    again = tune.Tuner.restore(grid.experiment_path, fails_on_2).get_results()
    assert isinstance(next(r.error for r in again if r.error is not None), Boom)


def test_fail_fast_raise_reraises_the_trials_own_exception(tmp_path):
    """fail_fast="raise": fit() raises the trainable's exception (as its type), after stopping every trial."""
    with pytest.raises(Boom, match="x is 2"):
        tuner(tmp_path, "raise").fit()
    analysis = tune.ExperimentAnalysis(str(tmp_path / "ff"))
    assert sorted(t.status for t in analysis.trials) == ["ERROR", "TERMINATED", "TERMINATED", "TERMINATED"]


def test_tune_run_with_fail_fast_raises_tune_error_unless_told_not_to(tmp_path):
    """tune.run(fail_fast=True) stops early, then raises TuneError as for any failed trial (Ray's default)."""
    with pytest.raises(tune.TuneError, match="1 trial"):
        tune.run(fails_on_2, config={"x": tune.grid_search([2, 1])}, fail_fast=True, name="r",
                 storage_path=str(tmp_path), verbose=0)  # fmt: skip
    analysis = tune.run(fails_on_2, config={"x": tune.grid_search([2, 1])}, fail_fast=True, name="r2",
                        storage_path=str(tmp_path), verbose=0, raise_on_failed_trial=False)  # fmt: skip
    assert sorted(t.status for t in analysis.trials) == ["ERROR", "TERMINATED"]


def test_fail_fast_with_retries_is_refused_as_in_ray(tmp_path):
    """fail_fast with max_failures != 0 is a ValueError, before anything runs; a bad value too."""
    with pytest.raises(ValueError, match="max_failures must be 0 if fail_fast=True"):
        tune.run(fails_on_2, fail_fast=True, max_failures=2, storage_path=str(tmp_path), verbose=0)
    with pytest.raises(ValueError, match="fail_fast='sometimes'"):
        tune.run(fails_on_2, fail_fast="sometimes", storage_path=str(tmp_path), verbose=0)
