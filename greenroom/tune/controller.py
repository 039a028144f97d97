"""The trial runner: starts trials as actors, feeds them, stops them, writes everything down.

It runs in the driver and uses only greenroom's public API (actors, placement
groups, ``wait``), so the same loop works on a Ray cluster. One loop:
start what fits -> wait for any trial's next result -> let the stopper, the
scheduler and the search algorithm decide -> continue, pause, stop, exploit or
retry it. Concurrency follows from resources: a trial starts only when its
whole request fits next to the running ones (and ``max_concurrent_trials``).
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from typing import Any

import greenroom as ray
from greenroom import exceptions
from greenroom.scheduler.resources import UNIT, ResourceSet
from greenroom.tune.checkpoint import Checkpoint
from greenroom.tune.error import TuneError
from greenroom.tune.experiment.trial import ERROR, PAUSED, PENDING, RUNNING, TERMINATED, Trial, lookup
from greenroom.tune.resources import PlacementGroupFactory
from greenroom.tune.schedulers.trial_scheduler import TrialScheduler
from greenroom.tune.search.basic_variant import BasicVariantGenerator
from greenroom.tune.storage import TrialFiles, save_state
from greenroom.tune.trainable.session import TrialInfo
from greenroom.tune.trainable.trainable import Trainable
from greenroom.tune.trial_actor import TrialActor
from greenroom.util.placement_group import placement_group, remove_placement_group
from greenroom.util.scheduling_strategies import PlacementGroupSchedulingStrategy

SAVE_EVERY_S = 0.5


@dataclass
class _Live:
    """A trial that holds an actor (and maybe a placement group)."""

    actor: Any
    pg: Any
    ref: Any = None  # the train() call in flight


class TuneController:
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
        self.search_alg = search_alg
        self.scheduler = scheduler
        self.stopper = stopper
        self.resources = resources
        self.max_failures = max_failures
        self.fail_fast = fail_fast
        self.checkpoint_frequency = checkpoint_frequency
        self.checkpoint_at_end = checkpoint_at_end
        self.keep = keep
        self._kept: dict[str, list[tuple[str, dict]]] = {}
        self.time_budget_s = time_budget_s
        self.callbacks = callbacks
        self.reporter = reporter
        self.trainable_name = trainable_name
        self.is_class = isinstance(trainable, type) and issubclass(trainable, Trainable)
        self.trials: list[Trial] = list(trials or [])
        self.live: dict[str, _Live] = {}
        self.files: dict[str, TrialFiles] = {}
        self._exploits: dict[str, tuple[Trial, dict]] = {}
        self._request = resources.request()
        self._total = ResourceSet.from_dict(ray.cluster_resources())
        self._check_feasible()
        self.max_concurrent = self._capacity(max_concurrent)
        self.max_pending = max_pending_trials(search_alg, self._total.get("CPU") / UNIT)
        self._last_save = 0.0

    # -- the scheduler's controller protocol ---------------------------------------------
    def get_trials(self) -> list[Trial]:
        return self.trials

    def request_exploit(self, trial: Trial, source_trial: Trial, new_config: dict) -> None:
        self._exploits[trial.trial_id] = (source_trial, new_config)

    # -- setup --------------------------------------------------------------------------
    def _check_feasible(self) -> None:
        if not self._request.fits_in(self._total):
            missing = {k: v for k, v in self._request.to_dict().items() if v > self._total.to_dict().get(k, 0)}
            raise TuneError(
                f"each trial asks for {self.resources.required_resources} but this node has "
                f"{self._total.to_dict()} in total, so no trial could ever start (short of {missing}). "
                "Lower resources_per_trial, or start greenroom with more (init(num_cpus=..., num_gpus=...))."
            )

    def _capacity(self, max_concurrent: int | None) -> int:
        fit = min(
            (self._total.get(name) // units for name, units in self._request.amounts if units > 0), default=1
        )
        fit = max(int(fit), 1)
        return min(fit, max_concurrent) if max_concurrent else fit

    # -- the loop -----------------------------------------------------------------------------
    def run(self) -> None:
        start = time.monotonic()
        self._save()
        stalled = 0
        try:
            while True:
                self._start_trials()
                if not self.live:
                    if self.search_alg.is_finished() and not self._startable():
                        break
                    stalled += 1
                    if stalled > 100:
                        waiting = [str(t) for t in self.trials if t.status in (PENDING, PAUSED)]
                        raise TuneError(
                            "no trial is running and none can start: the search algorithm offers no "
                            f"new trial and the scheduler chose none of {waiting}"
                        )
                    continue
                stalled = 0
                refs = {lv.ref: tid for tid, lv in self.live.items() if lv.ref is not None}
                ready, _ = ray.wait(list(refs), num_returns=1, timeout=1.0)
                for ref in ready:
                    self._on_result(self._trial(refs[ref]), ref)
                if self.time_budget_s is not None and time.monotonic() - start > self.time_budget_s:
                    self._stop_everything("time budget reached")
                    break
                if self.stopper is not None and self.stopper.stop_all():
                    self._stop_everything("the stopper ended the experiment")
                    break
                self.reporter.update(self.trials)
        except KeyboardInterrupt:
            self._stop_everything("interrupted", resumable=True)
            self.reporter.message("Experiment interrupted: resume it with resume=True")
            self._save(force=True)
            raise
        finally:
            self._save(force=True)
        self.reporter.done(self.trials)

    def _trial(self, trial_id: str) -> Trial:
        for t in self.trials:
            if t.trial_id == trial_id:
                return t
        raise KeyError(trial_id)

    def _startable(self) -> bool:
        return any(t.status in (PENDING, PAUSED) for t in self.trials)

    def _fits(self) -> bool:
        if len(self.live) >= self.max_concurrent:
            return False
        used = ResourceSet.from_units({})
        for _ in self.live:
            used = used + self._request
        return (used + self._request).fits_in(self._total)

    def _add_pending_trials(self) -> None:
        """Ask the search algorithm for trials until ``max_pending`` wait to start."""
        pending = sum(1 for t in self.trials if t.status == PENDING)
        while pending < self.max_pending and not self.search_alg.is_finished():
            suggestion = self.search_alg.next_trial()
            if suggestion is None:
                return
            self._add_trial(suggestion)
            pending += 1

    def _start_trials(self) -> None:
        self._add_pending_trials()
        while self._fits():
            if not any(t.status == PENDING for t in self.trials):
                self._add_pending_trials()
            trial = self.scheduler.choose_trial_to_run(self)
            if trial is None:
                return
            self._launch(trial, trial.checkpoint)

    def _add_trial(self, s: Any) -> Trial:
        index = len(self.trials)
        trial = Trial(
            trial_id=s.trial_id, config=s.config, experiment_tag=s.experiment_tag,
            evaluated_params=s.evaluated_params, resources=self.resources,
        )  # fmt: skip
        trial.trainable_name = self.trainable_name
        tag = s.experiment_tag.replace("/", "_")[:60] or str(index)
        trial.path = os.path.join(self.experiment_dir, f"{self.trainable_name}_{s.trial_id}_{index:05d}_{tag}")
        self.trials.append(trial)
        self.scheduler.on_trial_add(self, trial)
        self._callback("on_trial_add", trial)
        self.reporter.event(trial, "added")
        self._save()
        return trial

    def _launch(self, trial: Trial, restore: Checkpoint | None) -> None:
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
        trial.status = RUNNING
        self._callback("on_trial_start", trial)
        self.reporter.event(trial, "started")
        self._save()

    # -- results -------------------------------------------------------------------------------
    def _on_result(self, trial: Trial, ref: Any) -> None:
        live = self.live[trial.trial_id]
        live.ref = None
        try:
            result = ray.get(ref)
        except (exceptions.RayTaskError, exceptions.RayActorError, exceptions.RaySystemError) as e:
            self._on_error(trial, e)
            return
        if result.pop("__no_result__", False):  # the function returned
            self._complete(trial)
            return
        checkpoint = result.pop("__checkpoint__", None)
        result.setdefault("config", trial.config)
        result["experiment_tag"] = trial.experiment_tag
        trial.last_result = result
        trial.results.append(result)
        if checkpoint is not None:
            self._new_checkpoint(trial, checkpoint)
        self.files[trial.trial_id].result(result)
        self.search_alg.on_trial_result(trial.trial_id, result)
        self._callback("on_trial_result", trial, result)
        self.reporter.event(trial, "result")
        if self.is_class and self.checkpoint_frequency and result["training_iteration"] % self.checkpoint_frequency == 0:
            self._save_checkpoint(trial)
        if result.get("done") or (self.stopper is not None and self.stopper(trial.trial_id, result)):
            self._complete(trial)
            return
        decision = self.scheduler.on_trial_result(self, trial, result)
        self._apply_scheduler_stops()
        self._apply_paused_exploits()
        if trial.trial_id in self._exploits:
            self._exploit(trial)
        elif decision == TrialScheduler.STOP:
            self._complete(trial)
        elif decision == TrialScheduler.PAUSE:
            self._pause(trial)
        else:
            live.ref = live.actor.train.remote()

    def _save_checkpoint(self, trial: Trial) -> None:
        live = self.live.get(trial.trial_id)
        if live is not None and self.is_class:
            self._new_checkpoint(trial, ray.get(live.actor.save.remote()))

    def _new_checkpoint(self, trial: Trial, path: str) -> None:
        """The trial's latest checkpoint; older ones beyond ``num_to_keep`` are deleted
        (the worst by ``checkpoint_score_attribute`` if given, else the oldest)."""
        trial.checkpoint = Checkpoint(path)
        trial.checkpoint_iteration = trial.last_result.get("training_iteration", 0)
        trial.checkpoint_time = trial.last_result.get("time_total_s", 0.0)
        keep = self.keep
        if keep is None or not keep.num_to_keep:
            return
        kept = self._kept.setdefault(trial.trial_id, [])
        kept.append((path, trial.last_result))
        while len(kept) > keep.num_to_keep:
            candidates = kept[:-1]  # never the latest: a restart resumes from it
            attr = keep.checkpoint_score_attribute
            if attr:
                sign = 1 if keep.checkpoint_score_order == "max" else -1
                victim = min(candidates, key=lambda c: sign * (lookup(c[1], attr) or 0))
            else:
                victim = candidates[0]
            kept.remove(victim)
            shutil.rmtree(victim[0], ignore_errors=True)

    def _complete(self, trial: Trial) -> None:
        if self.checkpoint_at_end:
            self._save_checkpoint(trial)
        self._release(trial)
        trial.status = TERMINATED
        self.scheduler.on_trial_complete(self, trial, trial.last_result)
        self.search_alg.on_trial_complete(trial.trial_id, trial.last_result)
        self._apply_scheduler_stops()
        self._callback("on_trial_complete", trial)
        self.reporter.event(trial, "completed")
        self._save()

    def _apply_scheduler_stops(self) -> None:
        """Paused trials the scheduler decided to end (HyperBand's losers)."""
        for trial in self.scheduler.pop_trials_to_stop():
            if trial.status in (PAUSED, PENDING):
                trial.status = TERMINATED
                self.scheduler.on_trial_remove(self, trial)
                self.search_alg.on_trial_complete(trial.trial_id, trial.last_result)
                self.reporter.event(trial, "stopped by the scheduler")

    def _apply_paused_exploits(self) -> None:
        """PBT may exploit into a paused trial: it resumes later from the copied checkpoint."""
        for trial_id in list(self._exploits):
            trial = self._trial(trial_id)
            if trial.status == PAUSED:
                source, new_config = self._exploits.pop(trial_id)
                self._adopt(trial, source, new_config)

    def _adopt(self, trial: Trial, source: Trial, new_config: dict) -> None:
        if source.checkpoint is not None:
            target = os.path.join(trial.path, f"exploit_{len(trial.results):06d}")
            shutil.copytree(source.checkpoint.path, target, dirs_exist_ok=True)
            trial.checkpoint = Checkpoint(target)
            trial.checkpoint_iteration = source.checkpoint_iteration
            trial.checkpoint_time = source.checkpoint_time
        trial.config = new_config
        self.reporter.event(trial, f"exploited {source.trial_id}")

    def _pause(self, trial: Trial) -> None:
        self._save_checkpoint(trial)
        self._release(trial)
        trial.status = PAUSED
        self.reporter.event(trial, "paused")
        self._save()

    def _exploit(self, trial: Trial) -> None:
        """PBT: restart ``trial`` from a copy of the source's checkpoint with a new config."""
        source, new_config = self._exploits.pop(trial.trial_id)
        self._release(trial)
        self._adopt(trial, source, new_config)
        self._launch(trial, trial.checkpoint)

    def _on_error(self, trial: Trial, error: BaseException) -> None:
        self._release(trial)
        text = str(error)
        trial.num_failures += 1
        path = self.files[trial.trial_id].error(text)
        trial.error = text
        self._callback("on_trial_error", trial)
        if self.max_failures < 0 or trial.num_failures <= self.max_failures:
            self.reporter.event(trial, f"failed ({trial.num_failures}), retrying from {trial.checkpoint or 'scratch'}")
            trial.status = PENDING
            return
        trial.status = ERROR
        self.scheduler.on_trial_error(self, trial)
        self.search_alg.on_trial_complete(trial.trial_id, None, error=True)
        self._apply_scheduler_stops()
        self.reporter.event(trial, f"errored; see {path}")
        self._save()
        if self.fail_fast:
            self._stop_everything("fail_fast: a trial failed")
            raise TuneError(f"trial {trial} failed and fail_fast is set:\n{text}")

    def _release(self, trial: Trial) -> None:
        live = self.live.pop(trial.trial_id, None)
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

    def _stop_everything(self, why: str, resumable: bool = False) -> None:
        for trial_id in list(self.live):
            trial = self._trial(trial_id)
            self._release(trial)
            trial.status = PENDING if resumable else TERMINATED
        if not resumable:
            for t in self.trials:
                if t.status in (PENDING, PAUSED):
                    t.status = TERMINATED
        self.reporter.message(f"Stopping: {why}")

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
            "search_finished": self.search_alg.is_finished(), "timestamp": time.time(),
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
