"""The coordinator of one training run: it places the workers, runs attempts, and carries
out what ``ReportRounds`` decides.

It runs in the process that called ``fit()`` (the driver, or a Tune trial's actor
for Ray Train V2's pattern), or in the trial's actor for ``Tuner(trainer)``
(mode ``TRIAL``, Ray Train V1's pattern), and uses only the public API:

1. Resources. ``fit()`` reserves its own placement group (``ScalingConfig.fit_bundles``),
   after checking that the node can ever hold it beside whatever the calling trial
   holds; a group created inside a trial is named for it (``trial_group_name``), so
   Tune can tell when trials' trainers could never all be placed. A ``TRIAL`` run uses
   the trial's own group, reserved with the trial.
2. Attempts. An attempt creates the worker group, runs the backend's set-up, starts
   every loop (with the checkpoint to resume from and each rank's dataset shard), and
   answers worker events until every rank returned. The first rank that raises or dies
   ends the attempt; the group is torn down (every worker killed), and the run retries
   from the last committed checkpoint up to ``FailureConfig(max_failures)`` (in ``TRIAL``
   mode, Tune retries the trial instead). Unequal report counts are not retried.
3. Reports. A complete round commits the staged checkpoint, writes rank 0's metrics,
   calls the ``UserCallback``s, and in ``TRIAL`` mode reports to the trial.
"""

from __future__ import annotations

import sys
from collections import deque
from dataclasses import dataclass
from typing import Any

import greenroom as ray
from greenroom.train._internal.rounds import (
    AskNext,
    Finished,
    Report,
    ReportRounds,
    RoundComplete,
    Unequal,
    rank_zero,
)
from greenroom.train._internal.shards import split_all
from greenroom.train._internal.storage import RunStorage
from greenroom.train._internal.worker import DONE, REPORT
from greenroom.train._internal.worker_group import WorkerFailure, WorkerGroup
from greenroom.train.base_trainer import TrainingFailedError
from greenroom.train.callback import TrainRunContext
from greenroom.train.config import placement_problem
from greenroom.train.result import Result
from greenroom.tune.execution.nested import trial_group_name
from greenroom.tune.storage import default_name, experiment_dir
from greenroom.tune.trainable.session import current_session
from greenroom.tune.trainable.session import report as tune_report
from greenroom.util._hooks import preload_modules
from greenroom.util.placement_group import (
    get_current_placement_group,
    placement_group,
    remove_placement_group,
)

FIT = "fit"
TRIAL = "trial"


class _AttemptFailed(Exception):
    def __init__(
        self, message: str, rank: int | None, cause: BaseException | None = None, retryable: bool = True
    ):
        super().__init__(message)
        self.rank = rank
        self.cause = cause
        self.retryable = retryable


@dataclass
class _Plan:
    """Where a run goes: its name and directory, its placement group, and how it starts and retries."""

    name: str
    path: str
    storage: RunStorage
    group: Any  # the placement group the workers go in
    first_bundle: int  # rank 0's bundle in it
    own_group: bool  # created (and removed) by this run
    restore: Any  # the checkpoint to start from
    max_failures: int
    base: dict  # WorkerInfo's run fields


class TrainRun:
    """One ``fit()`` of ``trainer`` (see the module docstring)."""

    def __init__(self, trainer: Any, mode: str = FIT) -> None:
        self.trainer = trainer
        self.mode = mode
        self.trial = current_session()
        if mode == TRIAL and self.trial is None:
            raise RuntimeError("a Tuner(trainer) trial runs only inside a Tune trial")
        self.scaling = trainer.scaling_config
        self.run_config = trainer.run_config
        self.backend_config = trainer.backend_config
        self.backend = self.backend_config.backend_cls()
        self.last_metrics: dict | None = None
        callbacks = self.run_config.callbacks or []
        self.callbacks = [
            cb for cb in callbacks if hasattr(cb, "after_report") or hasattr(cb, "after_exception")
        ]
        if mode == TRIAL:  # this run reports to its trial itself
            self.callbacks = [cb for cb in self.callbacks if not getattr(cb, "_forwards_to_tune", False)]

    # -- the run -------------------------------------------------------------------------------
    def run(self) -> Result:
        """Run to the end; the Result. Raises TrainingFailedError, or ValueError if it can never be placed."""
        plan = self._trial_plan() if self.mode == TRIAL else self._fit_plan()
        plan.base["metadata"] = dict(self.trainer.metadata or {})
        config = self.trainer.train_loop_config
        self.context = TrainRunContext(self.run_config, config, self.scaling, plan.name, plan.path)
        plan.storage.write_params(config)
        if self.backend.preload:
            try:
                preload_modules(list(self.backend.preload))
            except Exception:  # another backend: the workers import them themselves
                pass
        try:
            if plan.own_group:
                ray.get(plan.group.ready())  # waits while others hold what it needs
            self._attempts(plan)
            plan.storage.finish()
        finally:
            plan.storage.clear_staging()
            if plan.own_group:
                remove_placement_group(plan.group)
        return Result(
            metrics=self.last_metrics, checkpoint=plan.storage.latest or plan.restore, path=plan.path,
            best_checkpoints=list(plan.storage.checkpoints), config=config,
        )  # fmt: skip

    def _trial_plan(self) -> _Plan:
        """Tuner(trainer): the trial's directory, its placement group, its checkpoint; Tune retries."""
        info = self.trial.info
        base = dict(experiment_name=info.experiment_name, trial_name=info.trial_name, trial_id=info.trial_id,
                    trial_dir=info.trial_dir, trial_resources=info.resources)  # fmt: skip
        return _Plan(
            name=info.experiment_name, path=info.trial_dir,
            storage=RunStorage(info.trial_dir, results=False, target=self.trial.next_checkpoint_dir),
            group=get_current_placement_group(), first_bundle=0 if info.resources.head_bundle_is_empty else 1,
            own_group=False, restore=self.trial.restore, max_failures=0, base=base,
        )  # fmt: skip

    def _fit_plan(self) -> _Plan:
        """fit(): a placement group of its own, checked to fit beside a calling trial and named for it."""
        bundles = self.scaling.fit_bundles()
        trial = self.trial.info if self.trial else None
        held = trial.resources.required_resources if trial else None
        holder = f"the Tune trial {trial.trial_name}" if trial else ""
        problem = placement_problem(self.scaling, bundles, ray.cluster_resources(), held, holder)
        if problem:
            raise ValueError(problem)
        name = self.run_config.name or default_name(type(self.trainer).__name__)
        path = experiment_dir(self.run_config.storage_path, name)
        storage = RunStorage(path, keep=self.run_config.checkpoint_config)
        group_name = trial_group_name(trial.trial_id, "train") if trial else ""
        base = dict(experiment_name=name, trial_name=trial.trial_name if trial else name,
                    trial_id=trial.trial_id if trial else None, trial_dir=trial.trial_dir if trial else path,
                    trial_resources=trial.resources if trial else None)  # fmt: skip
        return _Plan(
            name=name, path=path, storage=storage,
            group=placement_group(bundles, strategy=self.scaling.placement_strategy, name=group_name),
            first_bundle=len(bundles) - self.scaling.num_workers, own_group=True,
            restore=storage.latest if storage.resumed else self.trainer.resume_from_checkpoint,
            max_failures=self.run_config.failure_config.max_failures, base=base,
        )  # fmt: skip

    def _attempts(self, plan: _Plan) -> None:
        """Attempts until one finishes, or the failures exceed ``max_failures`` (TrainingFailedError)."""
        failures, restore, max_failures = 0, plan.restore, plan.max_failures
        while True:
            try:
                self._attempt(failures, plan, restore)
                return
            except _AttemptFailed as failed:
                self._after_exception(failed)
                failures += 1
                if not failed.retryable or (0 <= max_failures < failures):
                    tried = f" after {failures} attempts" if failures > 1 else ""
                    hint = "" if not failed.retryable or max_failures else (
                        " Set RunConfig(failure_config=FailureConfig(max_failures=N)) to retry from the last "
                        "checkpoint."
                    )  # fmt: skip
                    raise TrainingFailedError(f"Training failed{tried}: {failed}{hint}") from failed.cause
                restore = plan.storage.latest or restore
                where = restore.path if restore is not None else "the start"
                print(f"greenroom.train: attempt {failures} failed ({failed}); retrying from {where} "
                      f"({failures} of {max_failures if max_failures >= 0 else 'unlimited'} retries)",
                      file=sys.stderr)  # fmt: skip

    def _attempt(self, attempt: int, plan: _Plan, restore: Any) -> None:
        """One worker group from start to finish; a failing rank raises _AttemptFailed."""
        n, storage = self.scaling.num_workers, plan.storage
        group = WorkerGroup(plan.group, plan.first_bundle, self.scaling.worker_bundle, n, plan.base)
        try:
            try:
                group.describe()
                self.backend.on_start(group, self.backend_config)
                shards = split_all(self.trainer.datasets, n)
                staging = storage.staging_root(attempt)
                loop, config = self.trainer.train_loop_per_worker, self.trainer.train_loop_config
                checkpoint = restore.path if restore is not None else None
                starts = [a.start.remote(loop, config, checkpoint, shards[r], staging)
                          for r, a in enumerate(group.actors)]  # fmt: skip
                group.wait_each(starts)
                self._rounds(group, storage)
            except WorkerFailure as failure:
                raise _AttemptFailed(str(failure), failure.rank, failure.cause) from None
        finally:
            group.shutdown()

    def _rounds(self, group: WorkerGroup, storage: RunStorage) -> None:
        rounds = ReportRounds(group.size)
        decisions = deque(rounds.start())
        pending: dict[Any, int] = {}
        while True:
            while decisions:
                match decisions.popleft():
                    case AskNext(ranks):
                        for rank in ranks:
                            pending[group.actors[rank].next_event.remote()] = rank
                    case RoundComplete(_, reports):
                        self._complete(reports, storage)
                    case Finished():
                        self.backend.on_shutdown(group, self.backend_config)
                        return
                    case Unequal(message):
                        raise _AttemptFailed(message, None, retryable=False)
            ready, _ = ray.wait(list(pending), num_returns=1)
            rank = pending.pop(ready[0])
            kind, payload, cause = group.result(rank, ready[0])
            if kind == REPORT:
                metrics, staged, dir_name = payload
                decisions.extend(rounds.reported(rank, Report(metrics, staged, dir_name)))
            elif kind == DONE:
                decisions.extend(rounds.returned(rank))
            else:
                raise _AttemptFailed(
                    f"worker rank {rank} (pid {group.pids[rank]}) raised:\n{payload}", rank, cause
                )

    def _complete(self, reports: tuple[Report, ...], storage: RunStorage) -> None:
        metrics = rank_zero(reports)
        staged = next((r.staged for r in reports if r.staged), None)
        dir_name = next((r.dir_name for r in reports if r.dir_name), None)
        checkpoint = storage.commit(staged, metrics, dir_name) if staged else None
        storage.record(metrics)
        self.last_metrics = metrics
        for cb in self.callbacks:
            hook = getattr(cb, "after_report", None)
            if hook is not None:
                hook(
                    run_context=self.context,
                    metrics=[dict(r.metrics) for r in reports],
                    checkpoint=checkpoint,
                )
        if self.mode == TRIAL:
            tune_report(metrics, checkpoint=checkpoint)

    def _after_exception(self, failed: _AttemptFailed) -> None:
        error = failed.cause if failed.cause is not None else RuntimeError(str(failed))
        errors = {failed.rank: error} if failed.rank is not None else {}
        for cb in self.callbacks:
            hook = getattr(cb, "after_exception", None)
            if hook is not None:
                hook(run_context=self.context, worker_exceptions=errors)
