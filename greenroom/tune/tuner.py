"""The modern Tune API: ``Tuner(trainable, param_space=, tune_config=, run_config=).fit()``.

Built on the same runner as ``tune.run``; ``fit()`` returns a ResultGrid.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
from typing import Any

import cloudpickle

from greenroom.tune.analysis import ResultGrid
from greenroom.tune.config import CheckpointConfig, FailureConfig, RunConfig, TuneConfig
from greenroom.tune.registry import trainable_name
from greenroom.tune.storage import default_name, experiment_dir

# The configuration classes live in tune/config.py; they stay importable from here.
__all__ = ["CheckpointConfig", "FailureConfig", "RunConfig", "TuneConfig", "Tuner"]


class Tuner:
    """Tune ``trainable`` over ``param_space``; ``fit()`` runs it.

    ``trainable`` may also be a ``greenroom.train`` trainer (Ray Train V1's pattern):
    each trial runs the trainer, its ``param_space`` keys (``train_loop_config``,
    ``scaling_config``, ...) overriding the trainer's arguments, and reserves the
    trainer's coordinator and worker bundles at once.
    """

    def __init__(
        self,
        trainable: Any = None,
        *,
        param_space: dict | None = None,
        tune_config: TuneConfig | None = None,
        run_config: RunConfig | None = None,
        _resume: Any = False,
    ) -> None:
        if trainable is None:
            raise TypeError("Tuner() needs a trainable: a function or a tune.Trainable class")
        if run_config is None and _is_trainer(trainable):  # Ray: the trainer's RunConfig, when none is given
            run_config = dataclasses.replace(trainable.run_config, callbacks=None)
        self.trainable = trainable
        self.param_space = param_space
        self.tune_config = tune_config or TuneConfig()
        self.run_config = run_config or RunConfig()
        self._resume = _resume
        self._results: ResultGrid | None = None
        self._restored_path: str | None = None

    @classmethod
    def restore(cls, path: str, trainable: Any, *, resume_unfinished: bool = True, resume_errored: bool = False,
                restart_errored: bool = False, param_space: dict | None = None, **_: Any) -> Tuner:  # fmt: skip
        """Continue the experiment at ``path`` with the settings it was started with
        (its unfinished trials, optionally the errored ones)."""
        path = os.path.abspath(os.path.expanduser(path))
        resume: Any = "RESTART_ERRORED" if restart_errored else "ERRORED_ONLY" if resume_errored else True
        settings = _load_settings(path)
        tune_config = settings.get("tune_config") or TuneConfig()
        run_config = settings.get("run_config") or RunConfig()
        run_config = dataclasses.replace(run_config, name=os.path.basename(path), storage_path=os.path.dirname(path))
        space = param_space if param_space is not None else settings.get("param_space")
        tuner = cls(trainable, param_space=space, tune_config=tune_config, run_config=run_config, _resume=resume)
        tuner._restored_path = path
        return tuner

    @classmethod
    def can_restore(cls, path: str) -> bool:
        from greenroom.tune.storage import STATE_FILE

        return os.path.exists(os.path.join(os.path.expanduser(path), STATE_FILE))

    def fit(self) -> ResultGrid:
        """Run the experiment. Trial errors are in the ResultGrid (``errors``), not raised."""
        from greenroom.tune.tune import run

        tc, rc = self.tune_config, self.run_config
        trainable = self.trainable
        if _is_trainer(trainable):  # Tuner(trainer): each trial runs the trainer with its config
            trainable = trainable._as_tune_trainable(self.param_space)
        if rc.name is None:  # a name now, so the settings land beside the experiment
            rc = dataclasses.replace(rc, name=default_name(trainable_name(trainable)))
        _save_settings(experiment_dir(rc.storage_path, rc.name), self.param_space, tc, rc)
        analysis = run(
            trainable, name=rc.name, metric=tc.metric, mode=tc.mode, stop=rc.stop,
            time_budget_s=tc.time_budget_s, config=self.param_space, num_samples=tc.num_samples,
            storage_path=rc.storage_path, search_alg=tc.search_alg, scheduler=tc.scheduler,
            checkpoint_config=rc.checkpoint_config, verbose=rc.verbose,
            progress_reporter=rc.progress_reporter, max_failures=rc.failure_config.max_failures,
            fail_fast=rc.failure_config.fail_fast, resume=self._resume, raise_on_failed_trial=False,
            callbacks=rc.callbacks, max_concurrent_trials=tc.max_concurrent_trials,
            trial_name_creator=tc.trial_name_creator, trial_dirname_creator=tc.trial_dirname_creator,
        )  # fmt: skip
        self._results = ResultGrid(analysis)
        return self._results

    def get_results(self) -> ResultGrid:
        """The results of the last ``fit()``; for a Tuner from ``Tuner.restore`` that has not
        run ``fit()``, those of the experiment on disk.

        Raises:
            RuntimeError: this Tuner has neither run nor been restored.
        """
        if self._results is not None:
            return self._results
        if self._restored_path is not None:
            from greenroom.tune.analysis import ExperimentAnalysis

            tc = self.tune_config
            analysis = ExperimentAnalysis(self._restored_path, default_metric=tc.metric, default_mode=tc.mode)
            return ResultGrid(analysis)
        raise RuntimeError(
            "Can't return results as experiment has not been run, yet. "
            "Call `Tuner.fit()` to run the experiment first."
        )


def _is_trainer(trainable: Any) -> bool:
    """A ``greenroom.train`` trainer (duck-typed: tune does not import train)."""
    return not isinstance(trainable, type) and hasattr(trainable, "_as_tune_trainable")


_SETTINGS = "tuner.pkl"
# The file is the experiment's own format, read back by Tuner.restore, not a wire message:
# cloudpickle so that lambdas and classes defined in __main__ (searchers, callbacks) survive.
_PICKLE_PROTOCOL = 5


def _save_settings(exp_dir: str, param_space: Any, tune_config: TuneConfig, run_config: RunConfig) -> None:
    """What Tuner.restore needs to continue as started (Ray keeps the same file)."""
    os.makedirs(exp_dir, exist_ok=True)
    settings = {"param_space": param_space, "tune_config": tune_config, "run_config": run_config}
    try:
        blob = cloudpickle.dumps(settings, protocol=_PICKLE_PROTOCOL)
    except Exception:  # an unpicklable searcher or callback: restore then needs them passed again
        return
    with open(os.path.join(exp_dir, _SETTINGS), "wb") as f:
        f.write(blob)


def _load_settings(exp_dir: str) -> dict:
    path = os.path.join(exp_dir, _SETTINGS)
    if not os.path.exists(path):
        return {}
    with open(path, "rb") as f:
        return pickle.loads(f.read())
