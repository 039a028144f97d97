"""``tune.run`` and ``tune.run_experiments``: experiments from trainables, search spaces and resources."""

from __future__ import annotations

import logging
import os
from typing import Any

import greenroom as ray
from greenroom.tune.analysis import ExperimentAnalysis
from greenroom.tune.controller import TuneController
from greenroom.tune.error import TuneError
from greenroom.tune.execution.experiment_settings import ExperimentSettings
from greenroom.tune.experiment.experiment import Experiment, convert_to_experiment_list
from greenroom.tune.experiment.trial import ERROR, PAUSED, PENDING, RUNNING
from greenroom.tune.progress import ProgressReporter
from greenroom.tune.registry import get_trainable_cls
from greenroom.tune.resources import PlacementGroupFactory, resources_to_factory
from greenroom.tune.schedulers import create_scheduler
from greenroom.tune.schedulers.fifo import FIFOScheduler
from greenroom.tune.search import create_searcher
from greenroom.tune.search.basic_variant import BasicVariantGenerator
from greenroom.tune.search.concurrency_limiter import ConcurrencyLimiter
from greenroom.tune.search.repeater import Repeater
from greenroom.tune.search.search_generator import SearchAlgorithm, SearchGenerator
from greenroom.tune.search.searcher import Searcher
from greenroom.tune.stopper import dict_stopper
from greenroom.tune.storage import STATE_FILE, load_state, trial_from_state
from greenroom.tune.trainable.trainable import Trainable
from greenroom.tune.trainable.util import parameters_of, resources_of, with_parameters, with_resources
from greenroom.tune.utils.callback import create_default_callbacks
from greenroom.util._hooks import preload_modules

__all__ = ["run", "run_experiments", "with_parameters", "with_resources"]

logger = logging.getLogger(__name__)

_RESUME = (False, True, "AUTO", "LOCAL", "ERRORED_ONLY", "AUTO+ERRORED", "LOCAL+ERRORED", "RESTART_ERRORED")


def _search_alg(search_alg: Any, max_concurrent_trials: int | None) -> SearchAlgorithm:
    if isinstance(search_alg, str):
        search_alg = create_searcher(search_alg)
    if search_alg is None:
        return BasicVariantGenerator(max_concurrent=max_concurrent_trials or 0)
    if isinstance(search_alg, SearchAlgorithm):
        return search_alg
    if isinstance(search_alg, Searcher):
        if max_concurrent_trials and not isinstance(search_alg, ConcurrencyLimiter):
            search_alg = ConcurrencyLimiter(search_alg, max_concurrent=max_concurrent_trials)
        return SearchGenerator(search_alg)
    raise TypeError(f"search_alg={search_alg!r}: expected a tune.search.Searcher or a SearchAlgorithm")


def _fail_fast(fail_fast: Any, max_failures: int) -> bool | str:
    if isinstance(fail_fast, str):
        if fail_fast.upper() != "RAISE":
            raise ValueError(f"fail_fast={fail_fast!r}: expected True, False or 'raise'")
        fail_fast = "raise"
    if fail_fast and max_failures != 0:
        raise ValueError("max_failures must be 0 if fail_fast=True.")
    return fail_fast


def _trainable_of(experiment: Experiment) -> Any:
    trainable = experiment._trainable or get_trainable_cls(experiment.run_identifier)
    if not callable(trainable):
        raise TypeError(f"tune.run() expects a function or a tune.Trainable class, got {trainable!r:.100}")
    return trainable


def _resources(trainable: Any, resources_per_trial: Any) -> PlacementGroupFactory | Any:
    """The experiment's resources: ``resources_per_trial``, or what the trainable sets for
    itself (``tune.with_resources``, ``default_resource_request``), as Ray decides it per config."""
    explicit = resources_to_factory(resources_per_trial) if resources_per_trial is not None else None
    own = resources_of(trainable)
    if own is None:
        return explicit or resources_to_factory(None)
    if isinstance(own, PlacementGroupFactory):
        if explicit is not None:
            raise TuneError(
                f"Resources for {trainable} have been automatically set to {own} by its "
                "`default_resource_request()` method. Please clear the `resources_per_trial` option."
            )
        return own

    def per_config(config: dict) -> PlacementGroupFactory:
        value = own(config)
        if value and explicit is not None:
            raise TuneError(
                f"Resources for {trainable} have been automatically set to {value} by its "
                "`default_resource_request()` method. Please clear the `resources_per_trial` option."
            )
        return resources_to_factory(value) if value else explicit or resources_to_factory(None)

    return per_config


def _settings(experiment: Experiment) -> ExperimentSettings:
    spec = experiment.spec
    trainable = _trainable_of(experiment)
    is_class = isinstance(trainable, type) and issubclass(trainable, Trainable)
    keep = spec["checkpoint_config"]
    if (keep.checkpoint_frequency or keep.checkpoint_at_end) and not is_class:
        raise ValueError(
            "checkpoint_freq/checkpoint_at_end apply to tune.Trainable classes; a function trainable "
            "checkpoints with tune.report(..., checkpoint=tune.Checkpoint.from_directory(dir))"
        )
    return ExperimentSettings(
        name=experiment.dir_name, path=experiment.path, trainable_name=experiment.run_identifier,
        is_class=is_class, resources=_resources(trainable, spec["resources_per_trial"]),
        stop=dict_stopper(spec["stop"]) if spec["stop"] else None, max_failures=spec["max_failures"],
        checkpoint_frequency=keep.checkpoint_frequency or 0, checkpoint_at_end=bool(keep.checkpoint_at_end),
        keep=keep, trial_name_creator=spec["trial_name_creator"],
        trial_dirname_creator=spec["trial_dirname_creator"], trainable=trainable,
    )  # fmt: skip


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
    keep_checkpoints_num: int | None = None,
    checkpoint_score_attr: str | None = None,
    verbose: int = 3,
    progress_reporter: ProgressReporter | None = None,
    trial_name_creator: Any = None,
    trial_dirname_creator: Any = None,
    max_failures: int = 0,
    fail_fast: bool | str = False,
    resume: Any = False,
    reuse_actors: bool | None = None,
    raise_on_failed_trial: bool = True,
    callbacks: list | None = None,
    max_concurrent_trials: int | None = None,
    seed: int | None = None,
    **unsupported: Any,
) -> ExperimentAnalysis:
    """Run trials of ``run_or_experiment``: a function, a ``tune.Trainable`` class, the name
    of a registered trainable, a ``tune.Experiment`` or a list of them.

    Each trial is an actor holding its resources (default 1 CPU); as many run at once as
    the node's resources allow (and ``max_concurrent_trials``). Everything lands in
    ``<storage_path or ~/greenroom_results>/<name>/``. For an Experiment, the arguments
    that describe one (``config``, ``stop``, ``resources_per_trial``, ...) are its own.
    ``reuse_actors`` is accepted and has no effect: each trial start gets a fresh actor.

    Returns:
        ExperimentAnalysis over the trials.
    Raises:
        TuneError: trials failed and ``raise_on_failed_trial``; or resources no trial can get.
        The failed trial's own exception: ``fail_fast="raise"``.
        ValueError, TypeError: bad arguments, before anything runs.
    """
    if unsupported:
        raise TypeError(f"tune.run() got unsupported argument(s) {sorted(unsupported)}")
    if mode is not None and mode not in ("min", "max"):
        raise ValueError(f"mode={mode!r}: expected 'min' or 'max'")
    if num_samples == -1:
        num_samples = 2**62  # Ray's "until stopped"
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples <= 0:
        raise ValueError(f"num_samples={num_samples!r}: expected a positive integer")
    if resume not in _RESUME:
        raise ValueError(f"resume={resume!r}: expected one of {_RESUME}")
    if config is not None and not isinstance(config, dict):
        raise TypeError(f"config={config!r:.100}: expected a dict (the search space)")
    fail_fast = _fail_fast(fail_fast, max_failures)
    checkpoint_config = _checkpoint_config(
        checkpoint_config, checkpoint_freq, checkpoint_at_end, keep_checkpoints_num, checkpoint_score_attr
    )
    items = run_or_experiment if isinstance(run_or_experiment, list) else [run_or_experiment]
    experiments = [
        e if isinstance(e, Experiment) else Experiment(
            name, e, stop=stop, time_budget_s=time_budget_s, config=config,
            resources_per_trial=resources_per_trial, num_samples=num_samples,
            storage_path=storage_path or local_dir, checkpoint_config=checkpoint_config,
            trial_name_creator=trial_name_creator, trial_dirname_creator=trial_dirname_creator,
            max_failures=max_failures,
        )  # fmt: skip
        for e in items
    ]
    settings = [_settings(e) for e in experiments]
    first = experiments[0]
    trial_scheduler = create_scheduler(scheduler) if isinstance(scheduler, str) else scheduler
    trial_scheduler = trial_scheduler or FIFOScheduler()
    algorithm = _search_alg(search_alg, max_concurrent_trials)
    if len(experiments) > 1 and not isinstance(algorithm, BasicVariantGenerator):
        raise ValueError("several experiments run at once only with the default search algorithm")
    # A searcher may decline (it has its own space and metric); add_configurations then
    # refuses a config that still has search domains in it, as Ray does.
    algorithm.set_search_properties(metric, mode, first.spec["config"], **first.public_spec)
    if not trial_scheduler.set_search_properties(metric, mode):
        raise ValueError(
            f"tune.run(metric={metric!r}, mode={mode!r}) but the scheduler was built with its own "
            "metric/mode; pass them in one place only"
        )
    _warn_repeats(algorithm, first.spec["num_samples"])
    if not ray.is_initialized():
        ray.init()
    _preload_trial_code()
    for s in settings:
        for params in parameters_of(s.trainable):  # with_parameters: in the object store once per run
            params.put()

    trials = None
    if resume and os.path.exists(os.path.join(first.path, STATE_FILE)):
        trials, finished = _resumed_trials(first.path, resume)
        _add_configurations(algorithm, experiments, seed)
        _skip(algorithm, len(trials), finished)
    elif resume in (True, "LOCAL", "ERRORED_ONLY", "LOCAL+ERRORED", "RESTART_ERRORED"):
        raise ValueError(f"resume={resume!r} but there is no experiment to resume at {first.path!r}")
    else:
        _add_configurations(algorithm, experiments, seed)

    reporter = progress_reporter or ProgressReporter(verbose=verbose, metric=metric, mode=mode)
    controller = TuneController(
        experiments=settings, experiment_dir=first.path, experiment_name=first.dir_name, search_alg=algorithm,
        scheduler=trial_scheduler, stopper=first.stopper, max_concurrent=max_concurrent_trials,
        fail_fast=fail_fast, callbacks=create_default_callbacks(callbacks), reporter=reporter,
        trials=trials, num_samples=first.spec["num_samples"],
    )  # fmt: skip
    controller.run()
    analysis = ExperimentAnalysis(
        first.path, trials=controller.trials, default_metric=metric, default_mode=mode
    )
    failed = [t for t in controller.trials if t.status == ERROR]
    if failed and raise_on_failed_trial:
        raise TuneError(
            f"{len(failed)} trial(s) did not complete: {[str(t) for t in failed]}. Their errors are in "
            f"{[os.path.join(t.path, 'error.txt') for t in failed]}; pass raise_on_failed_trial=False to get "
            "the analysis anyway."
        )
    return analysis


def run_experiments(
    experiments: Any,
    scheduler: Any = None,
    server_port: int | None = None,
    verbose: int = 3,
    progress_reporter: ProgressReporter | None = None,
    resume: Any = False,
    reuse_actors: bool | None = None,
    raise_on_failed_trial: bool = True,
    concurrent: bool = True,
    callbacks: list | None = None,
) -> list:
    """Run ``experiments`` (an Experiment, a list of them, or a dict ``{name: spec}``) and
    return every trial. With ``concurrent`` they run at once, sharing the node; otherwise
    one after the other. ``server_port`` is accepted and unused (Ray's TuneServer is gone).

    Raises:
        TuneError: a bad experiment spec; trials failed and ``raise_on_failed_trial``.
    """
    experiments = convert_to_experiment_list(experiments)
    common = dict(
        scheduler=scheduler, verbose=verbose, progress_reporter=progress_reporter, resume=resume,
        reuse_actors=reuse_actors, raise_on_failed_trial=raise_on_failed_trial, callbacks=callbacks,
    )  # fmt: skip
    if concurrent:
        return run(experiments, **common).trials
    trials: list = []
    for experiment in experiments:
        trials += run(experiment, **common).trials
    return trials


def _checkpoint_config(checkpoint_config: Any, freq: int, at_end: bool, keep_num: int | None,
                       score_attr: str | None) -> Any:  # fmt: skip
    """``checkpoint_config`` with Ray's older separate arguments folded in."""
    import dataclasses

    from greenroom.tune.config import CheckpointConfig

    config = dataclasses.replace(checkpoint_config) if checkpoint_config is not None else CheckpointConfig()
    config.checkpoint_frequency = config.checkpoint_frequency or freq
    config.checkpoint_at_end = bool(config.checkpoint_at_end) or at_end
    if keep_num is not None:
        config.num_to_keep = keep_num
    if score_attr is not None:
        order, attr = ("min", score_attr[4:]) if score_attr.startswith("min-") else ("max", score_attr)
        config.checkpoint_score_attribute, config.checkpoint_score_order = attr, order
    return config


def _add_configurations(algorithm: SearchAlgorithm, experiments: list[Experiment], seed: int | None) -> None:
    for experiment in experiments:
        spec = experiment.spec
        if isinstance(algorithm, BasicVariantGenerator):
            algorithm.add_configurations(
                spec["config"], spec["num_samples"], seed=seed, experiment=experiment.dir_name
            )
        else:
            algorithm.add_configurations(spec["config"], spec["num_samples"], seed=seed)


def _warn_repeats(algorithm: SearchAlgorithm, num_samples: int) -> None:
    searcher = getattr(algorithm, "searcher", None)
    if isinstance(searcher, Repeater) and num_samples % searcher.repeat:
        logger.warning(
            "num_samples=%d is not a multiple of Repeater(repeat=%d): num_samples counts every repeat, "
            "so the leftover trials are not run", num_samples, searcher.repeat,
        )  # fmt: skip


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
