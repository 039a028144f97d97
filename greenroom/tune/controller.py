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
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import greenroom as ray
from greenroom import exceptions
from greenroom.tune.error import TuneError
from greenroom.tune.execution.instructions import (
    ContinueTrial,
    CopyCheckpoint,
    DeleteCheckpoints,
    FailExperiment,
    Instruction,
    ResultRecorded,
    SaveCheckpoint,
    StartTrial,
    StopExperiment,
    StopTrial,
    TrialAdded,
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
from greenroom.tune.resources import PlacementGroupFactory
from greenroom.tune.schedulers.trial_scheduler import TrialScheduler
from greenroom.tune.search.basic_variant import BasicVariantGenerator
from greenroom.tune.storage import TrialFiles, save_state
from greenroom.tune.trainable.session import TrialInfo
from greenroom.tune.trainable.trainable import Trainable
from greenroom.tune.trial_actor import TrialActor
from greenroom.util.placement_group import placement_group, placement_group_table, remove_placement_group
from greenroom.util.scheduling_strategies import PlacementGroupSchedulingStrategy

SAVE_EVERY_S = 0.5


@dataclass
class _Live:
    """A trial that holds an actor (and maybe a placement group)."""

    actor: Any
    pg: Any
    ref: Any = None  # the train() call in flight


class TuneController:
    """Runs an experiment: ``run()`` returns when every trial has ended.

    Raises (from ``run``):
        TuneError: ``fail_fast`` and a trial failed, or no trial can start.
        KeyboardInterrupt: after stopping every trial so that ``resume`` continues.
    """

    def __init__(
        self,
        trainable: Any,
        *,
        experiment_name: str,
        experiment_dir: str,
        search_alg: Any,
        scheduler: TrialScheduler,
        stopper: Any,
        resources: PlacementGroupFactory,
        max_concurrent: int | None,
        max_failures: int,
        fail_fast: bool,
        checkpoint_frequency: int,
        checkpoint_at_end: bool,
        keep: Any = None,  # CheckpointConfig (num_to_keep, checkpoint_score_attribute/order)
        time_budget_s: float | None,
        callbacks: list,
        reporter: Any,
        trainable_name: str,
        trials: list[Trial] | None = None,
    ) -> None:
        self.trainable = trainable
        self.experiment_name = experiment_name
        self.experiment_dir = experiment_dir
        self.resources = resources
        self.callbacks = callbacks
        self.reporter = reporter
        self.trainable_name = trainable_name
        self.is_class = isinstance(trainable, type) and issubclass(trainable, Trainable)
        cluster = ray.cluster_resources()
        self.core = RunnerState(
            search_alg=search_alg, scheduler=scheduler, stopper=stopper, resources=resources,
            cluster=cluster, experiment_dir=experiment_dir, trainable_name=trainable_name,
            is_class=self.is_class, max_concurrent=max_concurrent,
            max_pending=max_pending_trials(search_alg, cluster.get("CPU", 0.0)),
            max_failures=max_failures, fail_fast=fail_fast, checkpoint_frequency=checkpoint_frequency,
            checkpoint_at_end=checkpoint_at_end, keep=keep, time_budget_s=time_budget_s, trials=trials,
        )  # fmt: skip
        self.live: dict[str, _Live] = {}
        self.files: dict[str, TrialFiles] = {}
        self._last_save = 0.0

    @property
    def trials(self) -> list[Trial]:
        """Every trial of the experiment, in the order they were added."""
        return self.core.trials

    # -- the loop -----------------------------------------------------------------------------
    def run(self) -> None:
        """Run trials until the core says the experiment is over; write the state down at the end."""
        start = time.monotonic()
        self._save()
        try:
            while True:
                self._carry_out(self.core.start_trials())
                if self.core.done:
                    break
                self._wait_for_results()
                self._carry_out(self.core.check_stop(time.monotonic() - start))
                if self.core.done:
                    break
                self.reporter.update(self.trials)
        except KeyboardInterrupt:
            self._carry_out(self.core.stop_everything("interrupted", resumable=True))
            # A callback that raised may have cut an instruction list short: hold nothing after.
            for trial_id in list(self.live):
                self._release(trial_id)
            self.reporter.message("Experiment interrupted: resume it with resume=True")
            self._save(force=True)
            raise
        finally:
            self._save(force=True)
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
            except (exceptions.RayTaskError, exceptions.RayActorError, exceptions.RaySystemError) as e:
                self._carry_out(self.core.on_error(trial, str(e)))
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

    # -- carrying out ---------------------------------------------------------------------------
    def _carry_out(self, instructions: Iterable[Instruction]) -> None:
        # Lazy: the core decides each instruction after the one before has been carried out.
        for ins in instructions:
            match ins:
                case StartTrial(trial, restore):
                    self._launch(trial, restore)
                    self._callback("on_trial_start", trial)
                    self._event(trial, "started", save=True)
                case ContinueTrial(trial):
                    live = self.live[trial.trial_id]
                    live.ref = live.actor.train.remote()
                case SaveCheckpoint(trial):
                    path = ray.get(self.live[trial.trial_id].actor.save.remote())
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
                    self.files[trial.trial_id].result(result)
                    self._callback("on_trial_result", trial, result)
                    self._event(trial, "result")
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
                    self.files[trial.trial_id].error(error)
                    self._callback("on_trial_error", trial)
                case TrialRetrying(trial):
                    where = trial.checkpoint or "scratch"
                    self._event(trial, f"failed ({trial.num_failures}), retrying from {where}")
                case TrialErrored(trial):
                    self._event(trial, f"errored; see {self.files[trial.trial_id].error_path}", save=True)
                case StopExperiment(why):
                    self.reporter.message(f"Stopping: {why}")
                case FailExperiment(message):
                    raise TuneError(message)
                case _:
                    raise TypeError(f"unknown instruction {ins!r}")

    def _launch(self, trial: Trial, restore: Any) -> None:
        files = self.files.get(trial.trial_id)
        if files is None:
            files = self.files[trial.trial_id] = TrialFiles(trial)
            files.start()
        pgf = self.resources
        options: dict[str, Any] = _bundle_options(pgf.head_bundle)
        pg = None
        if pgf.has_extra_bundles:
            pg = placement_group(pgf.bundles, strategy=pgf.strategy)
            options["scheduling_strategy"] = PlacementGroupSchedulingStrategy(
                pg, placement_group_bundle_index=0, placement_group_capture_child_tasks=True
            )
        info = TrialInfo(trial.trial_id, trial.trial_name, trial.path, self.experiment_name, pgf)
        index = _next_checkpoint_index(trial.path)
        progress = (trial.checkpoint_iteration, trial.checkpoint_time) if restore else (0, 0.0)
        actor = ray.remote(TrialActor).options(**options).remote(
            self.trainable, trial.config, info, restore.path if restore else None, index, progress
        )
        live = self.live[trial.trial_id] = _Live(actor, pg)
        live.ref = actor.train.remote()

    def _release(self, trial_id: str) -> None:
        live = self.live.pop(trial_id, None)
        if live is None:
            return
        if self.is_class:  # cleanup() is the user's; a function trainable has none
            try:
                ray.get(live.actor.stop.remote(), timeout=10)
            except Exception:
                pass
        ray.kill(live.actor)
        if live.pg is not None:
            remove_placement_group(live.pg)

    def _event(self, trial: Trial, what: str, save: bool = False) -> None:
        self.reporter.event(trial, what)
        if save:
            self._save()

    def _callback(self, name: str, trial: Trial, result: dict | None = None) -> None:
        extra = {"result": result} if result is not None else {}
        for cb in self.callbacks:
            fn = getattr(cb, name, None)
            if fn is not None:
                fn(iteration=len(trial.results), trials=self.trials, trial=trial, **extra)

    def _save(self, force: bool = False) -> None:
        # The state file is rewritten whole: at most every SAVE_EVERY_S, and at the end.
        now = time.monotonic()
        if not force and now - self._last_save < SAVE_EVERY_S:
            return
        self._last_save = now
        save_state(self.experiment_dir, self.trials, {
            "name": self.experiment_name, "trainable_name": self.trainable_name,
            "search_finished": self.core.search_alg.is_finished(), "timestamp": time.time(),
        })  # fmt: skip


def max_pending_trials(search_alg: Any, cluster_cpus: float) -> int:
    """How many trials may wait to start, as Ray decides it: many for grid and random
    search, so that schedulers such as PBT see the whole population at once; one for
    other searchers, which should learn from results before suggesting more. The
    environment variable TUNE_MAX_PENDING_TRIALS_PG overrides it."""
    setting = os.environ.get("TUNE_MAX_PENDING_TRIALS_PG", "auto")
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
