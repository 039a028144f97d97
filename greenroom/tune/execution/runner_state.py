"""The trial runner's decisions as pure logic: events in, instructions out, no I/O.

``RunnerState`` owns the experiment's trials and their status, asks the trial
scheduler, the search algorithm and the stopper what to do, and answers each
event with instructions (``instructions.py``) that the shell
(``tune/controller.py``) carries out in order. It never waits, starts a
process or touches a file, so every rule is tested synchronously.

Status: PENDING -> RUNNING -> PAUSED -> RUNNING ... -> TERMINATED, or -> ERROR
once the retries (``max_failures``) are spent; a failed trial with retries
left is PENDING again. A trial is RUNNING exactly while the shell holds an
actor for it: ``StartTrial`` comes with the change to RUNNING, ``StopTrial``
with the change away from it (or, for a PBT exploit, with a ``StartTrial``
that restarts it).

Events: ``start_trials`` (each turn of the loop), ``on_result``, ``on_error``,
``checkpoint_saved`` (the answer to ``SaveCheckpoint``), ``check_stop`` and
``stop_everything``. Each returns a lazy iterator: the core decides the next
instruction only once the shell has carried out the one before, so callbacks
and the reporter see every trial as it is at that step (a result is reported
before the scheduler decides on it, as in Ray), and an exception from a
callback leaves the rest of the event undecided. The core is also the
scheduler's ``TrialController``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from greenroom.tune.checkpoint import Checkpoint
from greenroom.tune.execution.capacity import trials_that_fit
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
from greenroom.tune.execution.retention import Kept, checkpoints_to_delete
from greenroom.tune.experiment.trial import ERROR, PAUSED, PENDING, RUNNING, TERMINATED, Trial
from greenroom.tune.resources import PlacementGroupFactory
from greenroom.tune.schedulers.trial_scheduler import TrialScheduler
from greenroom.tune.search.search_generator import SearchAlgorithm, TrialSuggestion

Instructions = Iterator[Instruction]

# What a SaveCheckpoint was for: the decision continues with it in checkpoint_saved.
_DECIDE, _PAUSE, _COMPLETE = "decide", "pause", "complete"


class RunnerState:
    """The experiment's trials and every decision about them (see the module docstring).

    Args:
        search_alg: where new trials come from.
        scheduler: decides on each result, and which waiting trial runs next.
        stopper: ``stopper(trial_id, result)`` ends a trial, ``stopper.stop_all()`` the experiment; or None.
        resources: what each trial holds.
        cluster: the node's total resources (``ray.cluster_resources()``).
        experiment_dir: where trial directories go (their paths are computed, not created, here).
        trainable_name: the prefix of trial names and directories.
        is_class: the trainable is a ``tune.Trainable`` class (it can be asked to save).
        max_concurrent: ``max_concurrent_trials``; None for as many as fit.
        max_pending: how many trials may wait to start before the searcher is asked for more.
        max_failures: retries of a failed trial; -1 retries forever.
        fail_fast: the first trial in ERROR stops the experiment with a TuneError.
        checkpoint_frequency: save a class trainable every this many iterations; 0 never.
        checkpoint_at_end: save a class trainable when it completes.
        keep: ``CheckpointConfig`` (``num_to_keep``, ``checkpoint_score_attribute``/order), or None.
        time_budget_s: stop everything once this many seconds have passed; None for no limit.
        trials: the trials of a resumed experiment.
    Raises:
        TuneError: no trial fits on the node, ever.
    """

    def __init__(
        self,
        *,
        search_alg: SearchAlgorithm,
        scheduler: TrialScheduler,
        stopper: Any,
        resources: PlacementGroupFactory,
        cluster: dict[str, float],
        experiment_dir: str,
        trainable_name: str,
        is_class: bool,
        max_concurrent: int | None = None,
        max_pending: int = 1,
        max_failures: int = 0,
        fail_fast: bool = False,
        checkpoint_frequency: int = 0,
        checkpoint_at_end: bool = False,
        keep: Any = None,
        time_budget_s: float | None = None,
        trials: list[Trial] | None = None,
    ) -> None:
        self.max_live = trials_that_fit(resources.required_resources, cluster, max_concurrent)
        self.search_alg = search_alg
        self.scheduler = scheduler
        self.stopper = stopper
        self.resources = resources
        self.experiment_dir = experiment_dir
        self.trainable_name = trainable_name
        self.is_class = is_class
        self.max_pending = max_pending
        self.max_failures = max_failures
        self.fail_fast = fail_fast
        self.checkpoint_frequency = checkpoint_frequency
        self.checkpoint_at_end = checkpoint_at_end
        self.keep = keep
        self.time_budget_s = time_budget_s
        self.trials: list[Trial] = list(trials or [])
        self.done = False  # finished, stopped or failed: the shell's loop ends
        self._exploits: dict[str, tuple[Trial, dict]] = {}
        self._kept: dict[str, list[Kept]] = {}
        self._after_save: dict[str, str] = {}
        for trial in self.trials:  # a resumed experiment's
            trial.resources = resources
            scheduler.on_trial_add(self, trial)

    # -- the scheduler's TrialController protocol --------------------------------------------
    def get_trials(self) -> list[Trial]:
        """Every trial, in the order they were added."""
        return self.trials

    def request_exploit(self, trial: Trial, source_trial: Trial, new_config: dict) -> None:
        """Carried out when ``trial`` next reports, or at once if it is PAUSED."""
        self._exploits[trial.trial_id] = (source_trial, new_config)

    # -- queries -----------------------------------------------------------------------------
    def trial(self, trial_id: str) -> Trial:
        """The trial with this id. Raises KeyError if there is none."""
        for t in self.trials:
            if t.trial_id == trial_id:
                return t
        raise KeyError(trial_id)

    def running(self) -> list[Trial]:
        """The RUNNING trials: those the shell holds an actor for."""
        return [t for t in self.trials if t.status == RUNNING]


    # -- events ------------------------------------------------------------------------------
    def start_trials(self) -> Instructions:
        """A turn of the loop: take new trials from the searcher, start those the scheduler
        chooses while they fit. If then nothing runs, the experiment is over: ``done`` when
        nothing waits and the searcher is finished, else stalled (FailExperiment)."""
        yield from self._add_pending_trials()
        live = len(self.running())
        while live < self.max_live:  # max_live already counts what fits of each resource
            if not any(t.status == PENDING for t in self.trials):
                yield from self._add_pending_trials()
            trial = self.scheduler.choose_trial_to_run(self)
            if trial is None:
                break
            trial.status = RUNNING
            yield StartTrial(trial, trial.checkpoint)
            live += 1
        if live == 0:
            yield from self._finish_or_stall()

    def on_result(self, trial: Trial, result: dict) -> Instructions:
        """The trial's ``train()`` returned ``result`` (the trial actor's markers included)."""
        if result.pop("__no_result__", False):  # the function returned
            yield from self._complete(trial)
            return
        checkpoint = result.pop("__checkpoint__", None)
        result.setdefault("config", trial.config)
        result["experiment_tag"] = trial.experiment_tag
        trial.last_result = result
        trial.results.append(result)
        if checkpoint is not None:
            yield from self._new_checkpoint(trial, checkpoint)
        self.search_alg.on_trial_result(trial.trial_id, result)
        yield ResultRecorded(trial, result)
        every = self.checkpoint_frequency
        if self.is_class and every and result["training_iteration"] % every == 0:
            yield self._save(trial, _DECIDE)
        else:
            yield from self._decide(trial)

    def checkpoint_saved(self, trial: Trial, path: str) -> Instructions:
        """The answer to ``SaveCheckpoint(trial)``: the actor saved to ``path``."""
        yield from self._new_checkpoint(trial, path)
        then = self._after_save.pop(trial.trial_id)
        if then == _DECIDE:
            yield from self._decide(trial)
        elif then == _PAUSE:
            yield from self._paused(trial)
        else:
            yield from self._completed(trial)

    def on_error(self, trial: Trial, error: str) -> Instructions:
        """The trial's actor raised, or died, with ``error`` (its text)."""
        yield StopTrial(trial)
        trial.num_failures += 1
        trial.error = error
        yield TrialFailed(trial, error)
        if self.max_failures < 0 or trial.num_failures <= self.max_failures:
            yield TrialRetrying(trial)
            trial.status = PENDING
            return
        trial.status = ERROR
        self.scheduler.on_trial_error(self, trial)
        self.search_alg.on_trial_complete(trial.trial_id, None, error=True)
        yield from self._scheduler_stops()
        yield TrialErrored(trial)
        if self.fail_fast:
            yield from self.stop_everything("fail_fast: a trial failed")
            yield FailExperiment(f"trial {trial} failed and fail_fast is set:\n{error}")

    def check_stop(self, elapsed_s: float) -> Instructions:
        """After results: stop everything if ``elapsed_s`` is past the time budget or the stopper says so."""
        if self.time_budget_s is not None and elapsed_s > self.time_budget_s:
            yield from self.stop_everything("time budget reached")
        elif self.stopper is not None and self.stopper.stop_all():
            yield from self.stop_everything("the stopper ended the experiment")

    def fail(self, message: str) -> Instructions:
        """The experiment cannot go on (the shell found its trials stalled): stop every trial,
        then FailExperiment(message)."""
        yield from self.stop_everything("the experiment cannot go on")
        yield FailExperiment(message)

    def stop_everything(self, why: str, resumable: bool = False) -> Instructions:
        """Stop every RUNNING trial and end the experiment. ``resumable``: the running trials
        become PENDING and the others keep their status, for ``resume``; else every trial
        not yet ended becomes TERMINATED."""
        for trial in self.running():
            yield StopTrial(trial)
            trial.status = PENDING if resumable else TERMINATED
        if not resumable:
            for trial in self.trials:
                if trial.status in (PENDING, PAUSED):
                    trial.status = TERMINATED
        self.done = True
        yield StopExperiment(why)

    # -- starting --------------------------------------------------------------------------------
    def _add_pending_trials(self) -> Instructions:
        """Ask the search algorithm for trials until ``max_pending`` wait to start."""
        pending = sum(1 for t in self.trials if t.status == PENDING)
        while pending < self.max_pending and not self.search_alg.is_finished():
            suggestion = self.search_alg.next_trial()
            if suggestion is None:
                return
            yield self._add_trial(suggestion)
            pending += 1

    def _add_trial(self, s: TrialSuggestion) -> TrialAdded:
        index = len(self.trials)
        trial = Trial(
            trial_id=s.trial_id, config=s.config, experiment_tag=s.experiment_tag,
            evaluated_params=s.evaluated_params, resources=self.resources,
        )  # fmt: skip
        trial.trainable_name = self.trainable_name
        tag = s.experiment_tag.replace("/", "_")[:60] or str(index)
        dirname = f"{self.trainable_name}_{s.trial_id}_{index:05d}_{tag}"
        trial.path = os.path.join(self.experiment_dir, dirname)
        self.trials.append(trial)
        self.scheduler.on_trial_add(self, trial)
        return TrialAdded(trial)

    def _finish_or_stall(self) -> Instructions:
        # Nothing runs after a turn that asked the searcher and the scheduler, and no trial
        # will report to change their answers: asking again would change nothing.
        self.done = True
        waiting = [str(t) for t in self.trials if t.status in (PENDING, PAUSED)]
        if waiting or not self.search_alg.is_finished():
            yield FailExperiment(
                "no trial is running and none can start: the search algorithm offers no "
                f"new trial and the scheduler chose none of {waiting}"
            )

    # -- deciding on a result --------------------------------------------------------------------
    def _decide(self, trial: Trial) -> Instructions:
        result = trial.last_result
        if result.get("done") or (self.stopper is not None and self.stopper(trial.trial_id, result)):
            yield from self._complete(trial)
            return
        decision = self.scheduler.on_trial_result(self, trial, result)
        yield from self._scheduler_stops()
        yield from self._paused_exploits()
        if trial.trial_id in self._exploits:
            yield from self._exploit(trial)
        elif decision == TrialScheduler.STOP:
            yield from self._complete(trial)
        elif decision == TrialScheduler.PAUSE:
            yield from self._pause(trial)
        else:
            yield ContinueTrial(trial)

    def _save(self, trial: Trial, then: str) -> SaveCheckpoint:
        self._after_save[trial.trial_id] = then
        return SaveCheckpoint(trial)

    def _new_checkpoint(self, trial: Trial, path: str) -> Instructions:
        """``path`` is the trial's latest checkpoint; older ones beyond ``num_to_keep`` go."""
        trial.checkpoint = Checkpoint(path)
        trial.checkpoint_iteration = trial.last_result.get("training_iteration", 0)
        trial.checkpoint_time = trial.last_result.get("time_total_s", 0.0)
        keep = self.keep
        if keep is None or not keep.num_to_keep:
            return
        kept = self._kept.setdefault(trial.trial_id, [])
        kept.append((path, trial.last_result))
        doomed = checkpoints_to_delete(
            kept, keep.num_to_keep, keep.checkpoint_score_attribute, keep.checkpoint_score_order
        )
        for entry in doomed:
            kept.remove(entry)
        if doomed:
            yield DeleteCheckpoints(tuple(path for path, _ in doomed))

    def _complete(self, trial: Trial) -> Instructions:
        if self.checkpoint_at_end and self.is_class:
            yield self._save(trial, _COMPLETE)
        else:
            yield from self._completed(trial)

    def _completed(self, trial: Trial) -> Instructions:
        yield StopTrial(trial)
        trial.status = TERMINATED
        self.scheduler.on_trial_complete(self, trial, trial.last_result)
        self.search_alg.on_trial_complete(trial.trial_id, trial.last_result)
        yield from self._scheduler_stops()
        yield TrialCompleted(trial)

    def _pause(self, trial: Trial) -> Instructions:
        if self.is_class:  # a function trainable checkpoints only when it reports
            yield self._save(trial, _PAUSE)
        else:
            yield from self._paused(trial)

    def _paused(self, trial: Trial) -> Instructions:
        yield StopTrial(trial)
        trial.status = PAUSED
        yield TrialPaused(trial)

    def _scheduler_stops(self) -> Instructions:
        """Waiting trials the scheduler decided to end (HyperBand's losers)."""
        for trial in self.scheduler.pop_trials_to_stop():
            if trial.status in (PAUSED, PENDING):
                trial.status = TERMINATED
                self.scheduler.on_trial_remove(self, trial)
                self.search_alg.on_trial_complete(trial.trial_id, trial.last_result)
                yield TrialRemoved(trial)

    # -- PBT exploits ----------------------------------------------------------------------------
    def _paused_exploits(self) -> Instructions:
        """An exploit into a PAUSED trial happens now: it resumes later from the copy."""
        for trial_id in list(self._exploits):
            trial = self.trial(trial_id)
            if trial.status == PAUSED:
                yield from self._adopt(trial, *self._exploits.pop(trial_id))

    def _exploit(self, trial: Trial) -> Instructions:
        """Restart a RUNNING trial from a copy of the source's checkpoint, with the new config."""
        source, new_config = self._exploits.pop(trial.trial_id)
        yield StopTrial(trial)
        yield from self._adopt(trial, source, new_config)
        yield StartTrial(trial, trial.checkpoint)

    def _adopt(self, trial: Trial, source: Trial, new_config: dict) -> Instructions:
        if source.checkpoint is not None:
            target = os.path.join(trial.path, f"exploit_{len(trial.results):06d}")
            yield CopyCheckpoint(source.checkpoint.path, target)
            trial.checkpoint = Checkpoint(target)
            trial.checkpoint_iteration = source.checkpoint_iteration
            trial.checkpoint_time = source.checkpoint_time
        trial.config = new_config
        yield TrialExploited(trial, source)
