"""``tune.run``: an experiment from a trainable, a search space and resources per trial."""

from __future__ import annotations

import os
from typing import Any, Callable

import greenroom as ray
from greenroom.tune.analysis import ExperimentAnalysis
from greenroom.tune.controller import TuneController
from greenroom.tune.error import TuneError
from greenroom.tune.experiment.trial import ERROR, PAUSED, PENDING, RUNNING
from greenroom.tune.progress import ProgressReporter
from greenroom.tune.resources import resources_to_factory
from greenroom.tune.schedulers.fifo import FIFOScheduler
from greenroom.tune.search.basic_variant import BasicVariantGenerator
from greenroom.tune.search.concurrency_limiter import ConcurrencyLimiter
from greenroom.tune.search.search_generator import SearchAlgorithm, SearchGenerator
from greenroom.tune.search.searcher import Searcher
from greenroom.tune.stopper import FunctionStopper, Stopper, dict_stopper
from greenroom.tune.storage import STATE_FILE, default_name, experiment_dir, load_state, trial_from_state
from greenroom.tune.trainable.trainable import Trainable
from greenroom.util._hooks import preload_modules

_RESUME = (False, True, "AUTO", "LOCAL", "ERRORED_ONLY", "AUTO+ERRORED", "LOCAL+ERRORED", "RESTART_ERRORED")


class _WithResources:
    """``tune.with_resources(trainable, resources)``: a trainable carrying its resources."""

    def __init__(self, trainable: Any, resources: Any) -> None:
        self.trainable = trainable
        self.resources = resources
        self.__name__ = getattr(trainable, "__name__", type(trainable).__name__)


def with_resources(trainable: Any, resources: Any) -> Any:
    """Attach ``resources_per_trial`` to a trainable (a dict or a PlacementGroupFactory)."""
    resources_to_factory(resources)  # validate now
    return _WithResources(trainable, resources)


def with_parameters(trainable: Callable, **kwargs: Any) -> Callable:
    """Pass large objects to a function trainable through the object store, once."""
    if isinstance(trainable, type):
        raise TypeError("with_parameters supports function trainables; give a Trainable its data in setup()")
    refs = {k: ray.put(v) for k, v in kwargs.items()}

    def inner(config: dict) -> Any:
        return trainable(config, **{k: ray.get(r) for k, r in refs.items()})

    inner.__name__ = getattr(trainable, "__name__", "trainable")
    return inner


def _trainable_name(trainable: Any) -> str:
    return getattr(trainable, "__name__", type(trainable).__name__)


def _stopper(stop: Any) -> Stopper | None:
    if stop is None:
        return None
    if isinstance(stop, Stopper):
        return stop
    if isinstance(stop, dict):
        return dict_stopper(stop)
    if callable(stop):
        return FunctionStopper(stop)
    raise TypeError(f"stop={stop!r}: expected a dict of criteria, a function (trial_id, result) -> bool, or a tune.Stopper")


def _search_alg(search_alg: Any, max_concurrent_trials: int | None) -> SearchAlgorithm:
    if search_alg is None:
        return BasicVariantGenerator(max_concurrent=max_concurrent_trials or 0)
    if isinstance(search_alg, SearchAlgorithm):
        return search_alg
    if isinstance(search_alg, Searcher):
        if max_concurrent_trials and not isinstance(search_alg, ConcurrencyLimiter):
            search_alg = ConcurrencyLimiter(search_alg, max_concurrent=max_concurrent_trials)
        return SearchGenerator(search_alg)
    raise TypeError(f"search_alg={search_alg!r}: expected a tune.search.Searcher or a SearchAlgorithm")


def run(
    run_or_experiment: Any,
    *,
    name: str | None = None,
    metric: str | None = None,
    mode: str | None = None,
    stop: Any = None,
    time_budget_s: float | None = None,
    config: dict | None = None,
    resources_per_trial: Any = None,
    num_samples: int = 1,
    storage_path: str | None = None,
    local_dir: str | None = None,
    search_alg: Any = None,
    scheduler: Any = None,
    checkpoint_freq: int = 0,
    checkpoint_at_end: bool = False,
    checkpoint_config: Any = None,
    verbose: int = 3,
    progress_reporter: ProgressReporter | None = None,
    max_failures: int = 0,
    fail_fast: bool = False,
    resume: Any = False,
    raise_on_failed_trial: bool = True,
    callbacks: list | None = None,
    max_concurrent_trials: int | None = None,
    seed: int | None = None,
    **unsupported: Any,
) -> ExperimentAnalysis:
    """Run trials of ``run_or_experiment`` (a function or a ``tune.Trainable`` class).

    Each trial is an actor holding ``resources_per_trial`` (default 1 CPU); as
    many run at once as the node's resources allow (and ``max_concurrent_trials``).
    Everything lands in ``<storage_path or ~/greenroom_results>/<name>/``.

    Returns:
        ExperimentAnalysis over the trials.
    Raises:
        TuneError: trials failed and ``raise_on_failed_trial``; or resources no trial can get.
        ValueError, TypeError: bad arguments, before anything runs.
    """
    if unsupported:
        raise TypeError(f"tune.run() got unsupported argument(s) {sorted(unsupported)}")
    trainable = run_or_experiment
    if isinstance(trainable, _WithResources):
        resources_per_trial = resources_per_trial or trainable.resources
        trainable = trainable.trainable
    if isinstance(trainable, str):
        raise TypeError("tune.run() takes the trainable itself (a function or Trainable class), not its name")
    if not callable(trainable):
        raise TypeError(f"tune.run() expects a function or a tune.Trainable class, got {trainable!r:.100}")
    if mode is not None and mode not in ("min", "max"):
        raise ValueError(f"mode={mode!r}: expected 'min' or 'max'")
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples == 0 or num_samples < -1:
        raise ValueError(f"num_samples={num_samples!r}: expected a positive integer")
    if resume not in _RESUME:
        raise ValueError(f"resume={resume!r}: expected one of {_RESUME}")
    if config is not None and not isinstance(config, dict):
        raise TypeError(f"config={config!r:.100}: expected a dict (the search space)")
    if checkpoint_config is not None:
        checkpoint_freq = checkpoint_config.checkpoint_frequency or checkpoint_freq
        checkpoint_at_end = bool(checkpoint_config.checkpoint_at_end) or checkpoint_at_end
    if (checkpoint_freq or checkpoint_at_end) and not (isinstance(trainable, type) and issubclass(trainable, Trainable)):
        raise ValueError(
            "checkpoint_freq/checkpoint_at_end apply to tune.Trainable classes; a function trainable "
            "checkpoints with tune.report(..., checkpoint=tune.Checkpoint.from_directory(dir))"
        )
    resources = resources_to_factory(resources_per_trial)
    stopper = _stopper(stop)
    trial_scheduler = scheduler or FIFOScheduler()
    algorithm = _search_alg(search_alg, max_concurrent_trials)
    space = config or {}
    # A searcher may decline (it has its own space and metric); add_configurations then
    # refuses a config that still has search domains in it, as Ray does.
    algorithm.set_search_properties(metric, mode, space)
    if not trial_scheduler.set_search_properties(metric, mode):
        raise ValueError(
            f"tune.run(metric={metric!r}, mode={mode!r}) but the scheduler was built with its own metric/mode; "
            "pass them in one place only"
        )
    if not ray.is_initialized():
        ray.init()
    _preload_trial_code()

    trainable_name = _trainable_name(trainable)
    name = name or default_name(trainable_name)
    exp_dir = experiment_dir(storage_path or local_dir, name)
    trials = None
    if resume and os.path.exists(os.path.join(exp_dir, STATE_FILE)):
        trials, finished = _resumed_trials(exp_dir, resume)
        algorithm.add_configurations(space, num_samples, seed=seed)
        _skip(algorithm, len(trials), finished)
    elif resume in (True, "LOCAL", "ERRORED_ONLY", "LOCAL+ERRORED", "RESTART_ERRORED"):
        raise ValueError(f"resume={resume!r} but there is no experiment to resume at {exp_dir!r}")
    else:
        algorithm.add_configurations(space, num_samples, seed=seed)

    reporter = progress_reporter or ProgressReporter(verbose=verbose, metric=metric, mode=mode)
    controller = TuneController(
        trainable, experiment_name=name, experiment_dir=exp_dir, search_alg=algorithm,
        scheduler=trial_scheduler, stopper=stopper, resources=resources,
        max_concurrent=max_concurrent_trials, max_failures=max_failures, fail_fast=fail_fast,
        checkpoint_frequency=checkpoint_freq, checkpoint_at_end=checkpoint_at_end, keep=checkpoint_config,
        time_budget_s=time_budget_s, callbacks=list(callbacks or []), reporter=reporter,
        trainable_name=trainable_name, trials=trials,
    )  # fmt: skip
    controller.run()
    analysis = ExperimentAnalysis(exp_dir, trials=controller.trials, default_metric=metric, default_mode=mode)
    failed = [t for t in controller.trials if t.status == ERROR]
    if failed and raise_on_failed_trial:
        raise TuneError(
            f"{len(failed)} trial(s) did not complete: {[str(t) for t in failed]}. Their errors are in "
            f"{[os.path.join(t.path, 'error.txt') for t in failed]}; pass raise_on_failed_trial=False to get "
            "the analysis anyway."
        )
    return analysis


def _preload_trial_code() -> None:
    """Trial actors start with Tune already imported (once, in the zygote), not per trial."""
    try:
        preload_modules(["greenroom.tune.trial_actor"])
    except Exception:  # another backend: trials import it themselves
        pass


def _resumed_trials(exp_dir: str, resume: Any) -> tuple[list, bool]:
    state = load_state(exp_dir)
    retry_errored = isinstance(resume, str) and "ERRORED" in resume
    trials = []
    for d in state["trials"]:
        trial = trial_from_state(d)
        if trial.status in (RUNNING, PAUSED, PENDING) or (trial.status == ERROR and retry_errored):
            trial.status = PENDING
            if resume == "RESTART_ERRORED" and d["status"] == ERROR:
                trial.checkpoint = None
        trials.append(trial)
    return trials, bool(state.get("search_finished"))


def _skip(algorithm: SearchAlgorithm, n: int, finished: bool) -> None:
    """Advance a fresh search past the trials a resumed experiment already has."""
    if finished:
        algorithm.set_finished()
    for _ in range(n):
        if algorithm.is_finished():
            break
        suggestion = algorithm.next_trial()
        if suggestion is None:
            break
        # The resumed trials keep their own ids; this stand-in frees its concurrency slot.
        algorithm.on_trial_complete(suggestion.trial_id)
