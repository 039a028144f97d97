"""The trial runner's shell: carries out the core's decisions with actors, files and callbacks.

It runs in the driver and uses only greenroom's public API (actors, placement
groups, ``wait``), so the same loop works on a Ray cluster. One loop: let the
core start what fits -> wait for any trial's next result -> hand it to the
core -> carry out what the core answers. Every decision (status, retries,
exploits, which checkpoints to keep, when the experiment is over) is made by
``tune.execution.runner_state.RunnerState``; this module only does the I/O.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import greenroom as ray
from greenroom import _config as config
from greenroom import exceptions
from greenroom.tune.callback import CallbackList
from greenroom.tune.error import TuneError
from greenroom.tune.execution.experiment_settings import ExperimentSettings
from greenroom.tune.execution.instructions import (
    ContinueTrial,
    CopyCheckpoint,
    DeleteCheckpoints,
    FailExperiment,
    Instruction,
    RaiseTrialError,
    ResultRecorded,
    SaveCheckpoint,
    StartTrial,
    StopExperiment,
    StopTrial,
    TrialAdded,
    TrialCheckpointed,
    TrialCompleted,
    TrialErrored,
    TrialExploited,
    TrialFailed,
    TrialPaused,
    TrialRemoved,
    TrialRetrying,
)
from greenroom.tune.execution.nested import stalled, trial_of_group
from greenroom.tune.execution.runner_state import RunnerState
from greenroom.tune.experiment.trial import Trial
from greenroom.tune.schedulers.trial_scheduler import TrialScheduler
from greenroom.tune.search.basic_variant import BasicVariantGenerator
from greenroom.tune.storage import error_file, record_error, save_state
from greenroom.tune.trainable.session import TrialInfo
from greenroom.tune.trial_actor import TrialActor
from greenroom.util.placement_group import placement_group, placement_group_table, remove_placement_group
from greenroom.util.scheduling_strategies import PlacementGroupSchedulingStrategy

SAVE_EVERY_S = 0.5
# What get() raises when a trial's actor call failed: the trial failed, not the experiment.
_TRIAL_ERRORS = (exceptions.RayTaskError, exceptions.RayActorError, exceptions.RaySystemError)


@dataclass
class _Live:
    """A trial that holds an actor (and maybe a placement group)."""

    actor: Any
    pg: Any
    ref: Any = None  # the train() call in flight


class TuneController:
    """Runs an experiment: ``run()`` returns when every trial has ended.

    Args:
        experiments: the run's experiments (``ExperimentSettings``, each with its trainable).
        experiment_dir: where the run's state file goes (the first experiment's directory).
        experiment_name: the run's name, for the state file.
        callbacks: ``tune.Callback`` objects, the default logger callbacks included.
        reporter: the progress reporter.
        num_samples: ``num_samples`` as given, for the callbacks' ``setup``.
        The rest: as ``RunnerState``.
    Raises (from ``run``):
        TuneError: no trial can start, or one could never fit.
        The failed trial's exception: ``fail_fast="raise"``.
        KeyboardInterrupt: after stopping every trial so that ``resume`` continues.
    """

    def __init__(
        self,
        *,
        experiments: Sequence[ExperimentSettings],
        experiment_dir: str,
        experiment_name: str,
        search_alg: Any,
        scheduler: TrialScheduler,
        stopper: Any,
        max_concurrent: int | None,
        fail_fast: bool | str,
        callbacks: list,
        reporter: Any,
        trials: list[Trial] | None = None,
        num_samples: int | None = None,
    ) -> None:
        self.experiment_name = experiment_name
        self.experiment_dir = experiment_dir
        self.callbacks = CallbackList(callbacks)
        self.reporter = reporter
        self.num_samples = num_samples
        cluster = ray.cluster_resources()
        self.core = RunnerState(
            experiments=experiments, search_alg=search_alg, scheduler=scheduler, stopper=stopper,
            cluster=cluster, max_concurrent=max_concurrent,
            max_pending=max_pending_trials(search_alg, cluster.get("CPU", 0.0)),
            fail_fast=fail_fast, trials=trials,
        )  # fmt: skip
        self.live: dict[str, _Live] = {}
        self.errors: dict[str, BaseException] = {}  # each trial's latest exception, for fail_fast="raise"
        self.iteration = 0  # turns of the loop, as callbacks count them
        self._last_save = 0.0

    @property
    def trials(self) -> list[Trial]:
        """Every trial of the experiment, in the order they were added."""
        return self.core.trials

    # -- the loop -----------------------------------------------------------------------------
    def run(self) -> None:
        """Run trials until the core says the experiment is over; write the state down at the end."""
        self._save()
        self.callbacks.setup(
            stop=self.core.stopper, num_samples=self.num_samples,
            total_num_samples=self.core.search_alg.total_samples,
        )  # fmt: skip
        try:
            while True:
                self.callbacks.on_step_begin(iteration=self.iteration, trials=self.trials)
                self._carry_out(self.core.start_trials())
                if self.core.done:
                    break
                self._wait_for_results()
                self._carry_out(self.core.check_stop())
                self.iteration += 1
                self.callbacks.on_step_end(iteration=self.iteration, trials=self.trials)
                if self.core.done:
                    break
                self.reporter.update(self.trials)
        except KeyboardInterrupt:
            self._carry_out(self.core.stop_everything("interrupted", resumable=True))
            self._release_all()  # a callback that raised may have cut an instruction list short
            self.reporter.message("Experiment interrupted: resume it with resume=True")
            raise
        except BaseException:
            self._release_all()  # nothing outlives the run: a failed run holds no actor
            raise
        finally:
            self._save(force=True)
            self.callbacks.on_experiment_end(trials=self.trials)
        self.reporter.done(self.trials)

    def _wait_for_results(self) -> None:
        refs = {lv.ref: tid for tid, lv in self.live.items() if lv.ref is not None}
        ready, _ = ray.wait(list(refs), num_returns=1, timeout=1.0)
        if not ready and self.live:
            self._check_stalled()
        for ref in ready:
            trial = self.core.trial(refs[ref])
            self.live[trial.trial_id].ref = None
            try:
                result = ray.get(ref)
            except _TRIAL_ERRORS as e:
                self._failed(trial, e)
                continue
            self._carry_out(self.core.on_result(trial, result))

    def _check_stalled(self) -> None:
        """Fail the experiment if the running trials wait forever on placement groups of their own
        (trainers' workers that could never all be placed beside the trials: Ray hangs there)."""
        running = {t.trial_id: t.resources.required_resources for t in self.core.running()}
        groups = []
        for entry in placement_group_table().values():
            trial_id = trial_of_group(entry.get("name") or "")
            if trial_id in running and entry.get("state") != "REMOVED":
                need: dict[str, float] = {}
                for bundle in entry["bundles"].values():
                    for key, value in bundle.items():
                        need[key] = need.get(key, 0.0) + value
                groups.append((trial_id, entry["state"], need))
        message = stalled(running, groups, ray.cluster_resources())
        if message:
            self._carry_out(self.core.fail(message))

    def _failed(self, trial: Trial, error: BaseException) -> None:
        self.errors[trial.trial_id] = error
        self._carry_out(self.core.on_error(trial, str(error)))

    # -- carrying out ---------------------------------------------------------------------------
    def _carry_out(self, instructions: Iterable[Instruction]) -> None:
        # Lazy: the core decides each instruction after the one before has been carried out.
        for ins in instructions:
            match ins:
                case StartTrial(trial, restore):
                    self._launch(trial, restore)
                    self._callback("on_trial_start", trial)
                    if restore is not None:
                        self._callback("on_trial_restore", trial)
                    self._event(trial, "started", save=True)
                case ContinueTrial(trial):
                    live = self.live[trial.trial_id]
                    live.ref = live.actor.train.remote()
                case SaveCheckpoint(trial):
                    try:
                        path = ray.get(self.live[trial.trial_id].actor.save.remote())
                    except _TRIAL_ERRORS as e:
                        self._failed(trial, e)  # save_checkpoint raised: the trial failed
                        continue
                    self._carry_out(self.core.checkpoint_saved(trial, path))
                case StopTrial(trial):
                    self._release(trial.trial_id)
                case CopyCheckpoint(source, target):
                    shutil.copytree(source, target, dirs_exist_ok=True)
                case DeleteCheckpoints(paths):
                    for path in paths:
                        shutil.rmtree(path, ignore_errors=True)
                case TrialAdded(trial):
                    self._callback("on_trial_add", trial)
                    self._event(trial, "added", save=True)
                case ResultRecorded(trial, result):
                    self._callback("on_trial_result", trial, result=result)
                    self._event(trial, "result")
                case TrialCheckpointed(trial):
                    self._callback("on_trial_save", trial)
                    self._callback("on_checkpoint", trial, checkpoint=trial.checkpoint)
                case TrialPaused(trial):
                    self._event(trial, "paused", save=True)
                case TrialCompleted(trial):
                    self._callback("on_trial_complete", trial)
                    self._event(trial, "completed", save=True)
                case TrialRemoved(trial):
                    self._event(trial, "stopped by the scheduler")
                case TrialExploited(trial, source):
                    self._event(trial, f"exploited {source.trial_id}")
                case TrialFailed(trial, error):
                    record_error(trial.path, error, self.errors.get(trial.trial_id))
                case TrialRetrying(trial):
                    self._callback("on_trial_recover", trial)
                    where = trial.checkpoint or "scratch"
                    self._event(trial, f"failed ({trial.num_failures}), retrying from {where}")
                case TrialErrored(trial):
                    self._callback("on_trial_error", trial)
                    self._event(trial, f"errored; see {error_file(trial.path)}", save=True)
                case StopExperiment(why):
                    self.reporter.message(f"Stopping: {why}")
                case FailExperiment(message):
                    raise TuneError(message)
                case RaiseTrialError(trial):
                    error = self.errors.get(trial.trial_id)
                    raise error or TuneError(f"trial {trial} failed:\n{trial.error}")
                case _:
                    raise TypeError(f"unknown instruction {ins!r}")

    def _launch(self, trial: Trial, restore: Any) -> None:
        settings = self.core.settings(trial)
        os.makedirs(trial.path, exist_ok=True)
        pgf = trial.resources  # the trial's own: a ResourceChangingScheduler may have changed them
        options: dict[str, Any] = _bundle_options(pgf.head_bundle)
        pg = None
        if pgf.has_extra_bundles:
            pg = placement_group(pgf.bundles, strategy=pgf.strategy)
            options["scheduling_strategy"] = PlacementGroupSchedulingStrategy(
                pg, placement_group_bundle_index=0, placement_group_capture_child_tasks=True
            )
        info = TrialInfo(trial.trial_id, trial.trial_name, trial.path, settings.name, pgf)
        index = _next_checkpoint_index(trial.path)
        progress = (trial.checkpoint_iteration, trial.checkpoint_time) if restore else (0, 0.0)
        actor = ray.remote(TrialActor).options(**options).remote(
            settings.trainable, trial.config, info, restore.path if restore else None, index, progress
        )
        live = self.live[trial.trial_id] = _Live(actor, pg)
        live.ref = actor.train.remote()

    def _release(self, trial_id: str) -> None:
        live = self.live.pop(trial_id, None)
        if live is None:
            return
        if self.core.settings(self.core.trial(trial_id)).is_class:  # a function trainable has no cleanup()
            try:
                ray.get(live.actor.stop.remote(), timeout=10)
            except Exception:
                pass
        ray.kill(live.actor)
        if live.pg is not None:
            remove_placement_group(live.pg)

    def _release_all(self) -> None:
        for trial_id in list(self.live):
            self._release(trial_id)

    def _event(self, trial: Trial, what: str, save: bool = False) -> None:
        self.reporter.event(trial, what)
        if save:
            self._save()

    def _callback(self, name: str, trial: Trial, **extra: Any) -> None:
        getattr(self.callbacks, name)(iteration=self.iteration, trials=self.trials, trial=trial, **extra)

    def _save(self, force: bool = False) -> None:
        # The state file is rewritten whole: at most every SAVE_EVERY_S, and at the end.
        now = time.monotonic()
        if not force and now - self._last_save < SAVE_EVERY_S:
            return
        self._last_save = now
        save_state(self.experiment_dir, self.trials, {
            "name": self.experiment_name, "trainable_name": self.core.first_experiment.trainable_name,
            "search_finished": self.core.search_alg.is_finished(), "timestamp": time.time(),
        })  # fmt: skip


def max_pending_trials(search_alg: Any, cluster_cpus: float) -> int:
    """How many trials may wait to start, as Ray decides it: many for grid and random
    search, so that schedulers such as PBT see the whole population at once; one for
    other searchers, which should learn from results before suggesting more. The
    environment variable TUNE_MAX_PENDING_TRIALS_PG overrides it."""
    setting = config.tune_max_pending_trials()
    if setting != "auto":
        try:
            return max(1, int(setting))
        except ValueError:
            raise TuneError(
                f"TUNE_MAX_PENDING_TRIALS_PG={setting!r}: set it to a whole number of trials, or to 'auto'"
            ) from None
    if not isinstance(search_alg, BasicVariantGenerator):
        return 1
    return max(200, int(cluster_cpus * 1.1))


def _bundle_options(bundle: dict) -> dict:
    options: dict[str, Any] = {"num_cpus": bundle.get("CPU", 0), "num_gpus": bundle.get("GPU", 0)}
    if bundle.get("memory"):
        options["memory"] = bundle["memory"]
    custom = {k: v for k, v in bundle.items() if k not in ("CPU", "GPU", "memory")}
    if custom:
        options["resources"] = custom
    return options


def _next_checkpoint_index(trial_dir: str | None) -> int:
    if not trial_dir or not os.path.isdir(trial_dir):
        return 0
    indices = [int(n.split("_")[1]) for n in os.listdir(trial_dir) if n.startswith("checkpoint_") and n.split("_")[1].isdigit()]
    return max(indices) + 1 if indices else 0
