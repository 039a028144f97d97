"""The trial scheduler interface, its controller protocol, and the FIFO scheduler.

A scheduler is a pure decision core: the trial runner (tune/execution/runner_state.py)
feeds it events (``on_trial_add``, ``on_trial_result``, ...) and carries out
what it answers. It never starts, stops or saves anything itself, and it does
not change Trial status; the runner owns Trial objects.

Decisions come out three ways:

- the return value of ``on_trial_result``: CONTINUE, PAUSE, STOP or NOOP
  (NOOP: the scheduler already asked the controller to do something to this
  trial, e.g. ``request_exploit``, so the runner must not act on it again);
- ``choose_trial_to_run``: which PENDING or PAUSED trial to start or resume;
- ``pop_trials_to_stop``: trials *other than* the one whose event is being
  handled that the scheduler decided to stop (HyperBand stops paused trials
  when a bracket halves). The runner drains it after every event.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from greenroom.tune.experiment.trial import PAUSED, PENDING, Trial

DEFAULT_METRIC = "_metric"  # Ray's ray.tune.result.DEFAULT_METRIC: used when only a mode is given


@runtime_checkable
class TrialController(Protocol):
    """What a scheduler may ask of the trial runner: nothing more than this."""

    def get_trials(self) -> list[Trial]:
        """Every trial of the experiment, in the order they were added."""
        ...

    def request_exploit(self, trial: Trial, source_trial: Trial, new_config: dict) -> None:
        """Restart ``trial`` from ``source_trial.checkpoint`` with ``new_config`` (PBT).

        The runner stops ``trial`` (or, if it is PAUSED, leaves it paused), copies
        ``source_trial.checkpoint`` into it, sets its config to ``new_config``
        and runs it again from that checkpoint.
        """
        ...


def validate_mode(mode: str | None) -> None:
    """Raise ValueError unless ``mode`` is None, "min" or "max"."""
    if mode is not None and mode not in ("min", "max"):
        raise ValueError(f"`mode` must be 'min' or 'max', got {mode!r}.")


class TrialScheduler:
    """Interface for trial schedulers (Ray's ``ray.tune.schedulers.TrialScheduler``)."""

    CONTINUE = "CONTINUE"  #: keep the trial running
    PAUSE = "PAUSE"  #: pause the trial (checkpoint it and give its resources back)
    STOP = "STOP"  #: stop the trial for good
    NOOP = "NOOP"  #: the scheduler already asked the controller to act on this trial

    _metric: str | None = None
    _mode: str | None = None
    _supports_buffered_results = True

    @property
    def metric(self) -> str | None:
        """The result key the scheduler optimises, or None before it is set."""
        return self._metric

    @property
    def mode(self) -> str | None:
        """"min" or "max", or None before it is set."""
        return self._mode

    @property
    def supports_buffered_results(self) -> bool:
        """False when the scheduler must see every result before the next one is produced."""
        return self._supports_buffered_results

    @property
    def _metric_op(self) -> float | None:
        """+1 for mode "max", -1 for "min": multiply a metric by it and bigger is better."""
        return {"max": 1.0, "min": -1.0}.get(self._mode or "")

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        """Take ``metric`` and ``mode`` from ``tune.TuneConfig`` unless set in the constructor.

        Returns:
            False if the scheduler already has a different metric or mode (the runner
            then tells the user to pass them in one place only), True otherwise.
        Raises:
            ValueError: if ``mode`` is not "min" or "max".
        """
        validate_mode(mode)
        if (self._metric and metric and metric != self._metric) or (
            self._mode and mode and mode != self._mode
        ):
            return False
        if metric:
            self._metric = metric
        if mode:
            self._mode = mode
        if self._metric is None and self._mode:
            self._metric = DEFAULT_METRIC
        return True

    def _check_metric_and_mode(self) -> None:
        if not self._metric or not self._mode:
            raise ValueError(
                f"{type(self).__name__} has no `metric` ({self._metric!r}) or `mode` ({self._mode!r}). "
                "Pass them to the scheduler's constructor or to `tune.TuneConfig(metric=..., mode=...)`."
            )

    def on_trial_add(self, controller: TrialController, trial: Trial) -> None:
        """Called when a trial is added to the experiment."""
        raise NotImplementedError

    def on_trial_error(self, controller: TrialController, trial: Trial) -> None:
        """Called when a RUNNING trial fails."""
        raise NotImplementedError

    def on_trial_result(self, controller: TrialController, trial: Trial, result: dict) -> str:
        """Called on each result of a RUNNING trial; returns CONTINUE, PAUSE, STOP or NOOP."""
        raise NotImplementedError

    def on_trial_complete(self, controller: TrialController, trial: Trial, result: dict) -> None:
        """Called when a RUNNING trial finishes, by itself or because it was stopped."""
        raise NotImplementedError

    def on_trial_remove(self, controller: TrialController, trial: Trial) -> None:
        """Called when a PENDING or PAUSED trial is stopped (otherwise ``on_trial_complete``)."""
        raise NotImplementedError

    def choose_trial_to_run(self, controller: TrialController) -> Trial | None:
        """A PENDING or PAUSED trial of ``controller.get_trials()`` to run next, or None.

        Idempotent: asking twice without an event in between gives the same answer.
        """
        raise NotImplementedError

    def pop_trials_to_stop(self) -> list[Trial]:
        """Trials the scheduler decided to stop outside ``on_trial_result``'s own trial.

        The runner stops each (they are PAUSED or PENDING) and reports it back with
        ``on_trial_remove``. Each trial is returned once.
        """
        return []

    def debug_string(self) -> str:
        """A one-paragraph summary for the progress output."""
        raise NotImplementedError


class FIFOScheduler(TrialScheduler):
    """Runs trials in the order they were added, and never stops one early."""

    def __init__(self) -> None:
        pass

    def on_trial_add(self, controller: TrialController, trial: Trial) -> None:
        pass

    def on_trial_error(self, controller: TrialController, trial: Trial) -> None:
        pass

    def on_trial_result(self, controller: TrialController, trial: Trial, result: dict) -> str:
        return TrialScheduler.CONTINUE

    def on_trial_complete(self, controller: TrialController, trial: Trial, result: dict) -> None:
        pass

    def on_trial_remove(self, controller: TrialController, trial: Trial) -> None:
        pass

    def choose_trial_to_run(self, controller: TrialController) -> Trial | None:
        """The first PENDING trial, else the first PAUSED one, else None."""
        trials = controller.get_trials()
        for status in (PENDING, PAUSED):
            for trial in trials:
                if trial.status == status:
                    return trial
        return None

    def debug_string(self) -> str:
        return "Using FIFO scheduling algorithm."
