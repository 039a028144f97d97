"""What the trial runner's core tells its shell to do: one frozen dataclass each.

The shell (tune/controller.py) carries a list of them out in order.

- Actions, on the trial's actor or on files: ``StartTrial``, ``ContinueTrial``,
  ``SaveCheckpoint``, ``StopTrial``, ``CopyCheckpoint``, ``DeleteCheckpoints``.
- Notifications, for callbacks and the reporter (and the experiment state file):
  ``TrialAdded``, ``ResultRecorded``, ``TrialCheckpointed``, ``TrialPaused``, ``TrialCompleted``,
  ``TrialRemoved``, ``TrialExploited``, ``TrialFailed``, ``TrialRetrying``,
  ``TrialErrored``.
- The experiment's end: ``StopExperiment``, ``FailExperiment``, ``RaiseTrialError``.

The core yields each one at the point of its decision where the I/O belongs:
``StopTrial`` before the trial leaves RUNNING, ``StartTrial`` after it enters
it, notifications after the change they report.
"""

from __future__ import annotations

from dataclasses import dataclass

from greenroom.tune.checkpoint import Checkpoint
from greenroom.tune.experiment.trial import Trial


@dataclass(frozen=True, slots=True)
class StartTrial:
    """Create the trial's actor (restored from ``restore`` if given) and ask it for a result."""

    trial: Trial
    restore: Checkpoint | None


@dataclass(frozen=True, slots=True)
class ContinueTrial:
    """Ask the trial's actor for its next result."""

    trial: Trial


@dataclass(frozen=True, slots=True)
class SaveCheckpoint:
    """Ask the trial's actor to save, then report the path with ``RunnerState.checkpoint_saved``.

    Always the last instruction of its list: the decision that wanted the
    checkpoint continues in ``checkpoint_saved``.
    """

    trial: Trial


@dataclass(frozen=True, slots=True)
class StopTrial:
    """Stop the trial's actor and give back its resources (and placement group)."""

    trial: Trial


@dataclass(frozen=True, slots=True)
class CopyCheckpoint:
    """Copy the checkpoint directory ``source`` to ``target`` (a PBT exploit)."""

    source: str
    target: str


@dataclass(frozen=True, slots=True)
class DeleteCheckpoints:
    """Delete these checkpoint directories (beyond ``num_to_keep``)."""

    paths: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TrialAdded:
    """A new trial from the search algorithm, PENDING."""

    trial: Trial


@dataclass(frozen=True, slots=True)
class ResultRecorded:
    """The trial reported ``result`` (now its ``last_result``): write it down and tell callbacks."""

    trial: Trial
    result: dict


@dataclass(frozen=True, slots=True)
class TrialCheckpointed:
    """The trial has a new checkpoint (``trial.checkpoint``): it reported or saved one."""

    trial: Trial


@dataclass(frozen=True, slots=True)
class TrialPaused:
    """The trial is PAUSED; its actor has been stopped."""

    trial: Trial


@dataclass(frozen=True, slots=True)
class TrialCompleted:
    """The trial is TERMINATED: it finished, or the stopper or the scheduler ended it."""

    trial: Trial


@dataclass(frozen=True, slots=True)
class TrialRemoved:
    """The scheduler ended a PENDING or PAUSED trial; it is TERMINATED."""

    trial: Trial


@dataclass(frozen=True, slots=True)
class TrialExploited:
    """The trial took ``source``'s checkpoint (already copied) and a new config (PBT)."""

    trial: Trial
    source: Trial


@dataclass(frozen=True, slots=True)
class TrialFailed:
    """The trial raised, or its actor died, with ``error``; its actor has been stopped."""

    trial: Trial
    error: str


@dataclass(frozen=True, slots=True)
class TrialRetrying:
    """The failed trial has retries left: it becomes PENDING, to start from its checkpoint."""

    trial: Trial


@dataclass(frozen=True, slots=True)
class TrialErrored:
    """The failed trial is in ERROR for good."""

    trial: Trial


@dataclass(frozen=True, slots=True)
class StopExperiment:
    """Every trial has been stopped (the StopTrial instructions come first); say ``why``."""

    why: str


@dataclass(frozen=True, slots=True)
class FailExperiment:
    """Raise ``TuneError(message)``: the experiment cannot go on."""

    message: str


@dataclass(frozen=True, slots=True)
class RaiseTrialError:
    """Raise the exception the trial failed with (``fail_fast="raise"``); everything is stopped."""

    trial: Trial


Instruction = (
    StartTrial | ContinueTrial | SaveCheckpoint | StopTrial | CopyCheckpoint | DeleteCheckpoints
    | TrialAdded | ResultRecorded | TrialCheckpointed | TrialPaused | TrialCompleted | TrialRemoved
    | TrialExploited
    | TrialFailed | TrialRetrying | TrialErrored | StopExperiment | FailExperiment | RaiseTrialError
)  # fmt: skip
