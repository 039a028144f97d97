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

A trial starts when the scheduler chooses it and its resources fit beside
those of the running trials (each trial holds its own: they may differ per
config, and a ``ResourceChangingScheduler`` changes them between starts).
Each trial's rules (stop criteria, retries, checkpointing) are its
experiment's (``experiment_settings.py``).

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
from collections.abc import Iterator, Sequence
from typing import Any

from greenroom.tune.checkpoint import Checkpoint
from greenroom.tune.execution.capacity import ResourceTotals, check_fits_alone, fits_beside
from greenroom.tune.execution.experiment_settings import ExperimentSettings, new_trial
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
from greenroom.tune.execution.retention import CheckpointBook
from greenroom.tune.experiment.trial import ERROR, PAUSED, PENDING, RUNNING, TERMINATED, Trial
from greenroom.tune.resources import PlacementGroupFactory
from greenroom.tune.schedulers.trial_scheduler import TrialScheduler
from greenroom.tune.search.search_generator import SearchAlgorithm, TrialSuggestion

Instructions = Iterator[Instruction]

SHOULD_CHECKPOINT = "should_checkpoint"  # tune.result.SHOULD_CHECKPOINT

# What a SaveCheckpoint was for: the decision continues with it in checkpoint_saved.
_DECIDE, _PAUSE, _COMPLETE = "decide", "pause", "complete"


class RunnerState:
    """The experiment's trials and every decision about them (see the module docstring).

    Args:
        experiments: the run's experiments (one, unless ``tune.run_experiments`` runs several);
            a trial without an ``experiment_name`` belongs to the first.
        search_alg: where new trials come from.
        scheduler: decides on each result, and which waiting trial runs next.
        stopper: ``stopper(trial_id, result)`` ends a trial, ``stopper.stop_all()`` the run; or None.
        cluster: the node's total resources (``ray.cluster_resources()``).
        max_concurrent: ``max_concurrent_trials``; None or 0 for as many as fit.
        max_pending: how many trials may wait to start before the searcher is asked for more.
        fail_fast: True: the first trial in ERROR stops the run (its error stays in the results);
            ``"raise"``: it also re-raises the trial's exception.
        trials: the trials of a resumed experiment.
    Raises:
        TuneError: a trial could never fit on the node (also later, from ``start_trials``, for
            resources that depend on the config).
    """

    def __init__(
        self,
        *,
        experiments: Sequence[ExperimentSettings],
        search_alg: SearchAlgorithm,
        scheduler: TrialScheduler,
        stopper: Any,
        cluster: dict[str, float],
        max_concurrent: int | None = None,
        max_pending: int = 1,
        fail_fast: bool | str = False,
        trials: list[Trial] | None = None,
    ) -> None:
        if not experiments:
            raise ValueError("RunnerState needs at least one experiment")
        self.experiments = {e.name: e for e in experiments}
        self.first_experiment = experiments[0]
        self.cluster = dict(cluster)
        for settings in experiments:  # resources that depend on the config are checked per trial
            if isinstance(settings.resources, PlacementGroupFactory):
                check_fits_alone(settings.resources.required_resources, self.cluster)
        self.search_alg = search_alg
        self.scheduler = scheduler
        self.stopper = stopper
        self.max_concurrent = max_concurrent or None
        self.max_pending = max_pending
        self.fail_fast = fail_fast
        self.trials: list[Trial] = list(trials or [])
        self.done = False  # finished, stopped or failed: the shell's loop ends
        self._resource_updater = ResourceTotals(self.cluster)  # Ray's name; allocation functions read it
        self._exploits: dict[str, tuple[Trial, dict]] = {}
        self._book = CheckpointBook()
        self._after_save: dict[str, str] = {}
        for trial in self.trials:  # a resumed experiment's
            settings = self.settings(trial)
            trial.experiment_name = settings.name
            trial.resources = settings.resources_for(trial.config)
            scheduler.on_trial_add(self, trial)

    # -- the scheduler's TrialController protocol --------------------------------------------
    def get_trials(self) -> list[Trial]:
        """Every trial, in the order they were added."""
        return self.trials

    def get_live_trials(self) -> list[Trial]:
        """The trials not yet ended (PENDING, RUNNING or PAUSED), as Ray's controller gives them."""
        return [t for t in self.trials if t.status not in (TERMINATED, ERROR)]

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

    def settings(self, trial: Trial) -> ExperimentSettings:
        """The settings of the experiment ``trial`` belongs to."""
        return self.experiments.get(trial.experiment_name, self.first_experiment)

    # -- events ------------------------------------------------------------------------------
    def start_trials(self) -> Instructions:
        """A turn of the loop: take new trials from the searcher, start those the scheduler
        chooses while they fit. If then nothing runs, the experiment is over: ``done`` when
        nothing waits and the searcher is finished, else stalled (FailExperiment)."""
        yield from self._add_pending_trials()
        blocked = None  # chosen, but it does not fit beside the running trials
        while self.max_concurrent is None or len(self.running()) < self.max_concurrent:
            if not any(t.status == PENDING for t in self.trials):
                yield from self._add_pending_trials()
            trial = self.scheduler.choose_trial_to_run(self)
            yield from self._scheduler_stops()  # choosing may end others (HyperBandForBOHB)
            if trial is None or trial.status not in (PENDING, PAUSED):
                break
            if not self._fits(trial):
                blocked = trial
                break
            trial.status = RUNNING
            yield StartTrial(trial, trial.checkpoint)
        if not self.running():
            yield from self._finish_or_stall(blocked)

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
        settings = self.settings(trial)
        every = settings.checkpoint_frequency
        due = bool(every) and result.get("training_iteration", 0) % every == 0
        if settings.is_class and (due or result.get(SHOULD_CHECKPOINT)):
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
        max_failures = self.settings(trial).max_failures
        if max_failures < 0 or trial.num_failures <= max_failures:
            yield TrialRetrying(trial)
            trial.status = PENDING
            return
        trial.status = ERROR
        self.scheduler.on_trial_error(self, trial)
        self.search_alg.on_trial_complete(trial.trial_id, None, error=True)
        yield from self._scheduler_stops()
        yield TrialErrored(trial)
        if self.fail_fast:
            yield from self.stop_everything(f"trial {trial} failed and fail_fast is set")
            if self.fail_fast == "raise":
                yield RaiseTrialError(trial)

    def check_stop(self) -> Instructions:
        """After results: stop everything if the stopper says so (``time_budget_s`` is a TimeoutStopper)."""
        if self.stopper is not None and self.stopper.stop_all():
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
        settings = self.experiments.get(s.experiment, self.first_experiment)
        trial = new_trial(settings, s, len(self.trials))
        check_fits_alone(trial.resources.required_resources, self.cluster)
        self.trials.append(trial)
        self.scheduler.on_trial_add(self, trial)
        return TrialAdded(trial)

    def _fits(self, trial: Trial) -> bool:
        others = (t.resources.required_resources for t in self.running())
        return fits_beside(trial.resources.required_resources, others, self.cluster)

    def _finish_or_stall(self, blocked: Trial | None) -> Instructions:
        # Nothing runs after a turn that asked the searcher and the scheduler, and no trial
        # will report to change their answers: asking again would change nothing.
        self.done = True
        waiting = [t for t in self.trials if t.status in (PENDING, PAUSED)]
        if blocked is not None:  # it does not fit on the empty node: its resources were changed
            yield FailExperiment(
                f"trial {blocked} asks for {blocked.resources.required_resources}, more than this "
                f"node's {self.cluster}, so it can never start; keep resources_allocation_function "
                "within the node"
            )
        elif waiting or not self.search_alg.is_finished():
            yield FailExperiment(
                "no trial is running and none can start: the search algorithm offers no "
                f"new trial and the scheduler chose none of {[str(t) for t in waiting]}"
            )

    # -- deciding on a result --------------------------------------------------------------------
    def _decide(self, trial: Trial) -> Instructions:
        result = trial.last_result
        own_stop = self.settings(trial).stop
        if (
            result.get("done")
            or (own_stop is not None and own_stop(trial.trial_id, result))
            or (self.stopper is not None and self.stopper(trial.trial_id, result))
        ):
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
        yield TrialCheckpointed(trial)
        doomed = self._book.add(trial.trial_id, path, trial.last_result, self.settings(trial).keep)
        if doomed:
            yield DeleteCheckpoints(doomed)

    def _complete(self, trial: Trial) -> Instructions:
        settings = self.settings(trial)
        if settings.checkpoint_at_end and settings.is_class:
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
        if self.settings(trial).is_class:  # a function trainable checkpoints only when it reports
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
