"""``tune.Callback``: hooks the trial runner calls as the experiment runs (Ray's ``ray.tune.callback``).

The runner calls every hook with keyword arguments: ``iteration`` (turns of
the tuning loop so far), ``trials`` (all of them), ``trial`` and, for some,
``result`` or ``checkpoint``; ``**info`` takes what later versions add.
``CallbackList`` calls a list of callbacks in order; a callback that does not
subclass ``Callback`` may define only the hooks it wants.
"""

from __future__ import annotations

from typing import Any


class Callback:
    """Override any of these hooks; each is a no-op here."""

    def setup(self, stop: Any = None, num_samples: int | None = None, total_num_samples: int | None = None,
              **info: Any) -> None:  # fmt: skip
        """Called once before the first trial starts.

        Args:
            stop: the experiment's stopper (a ``tune.Stopper``), or None.
            num_samples: ``num_samples`` as given.
            total_num_samples: how many trials the search will create, grid values counted.
        """

    def on_step_begin(self, iteration: int, trials: list, **info: Any) -> None:
        """At the start of each turn of the tuning loop."""

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        """At the end of each turn of the tuning loop (``iteration`` counts this one)."""

    def on_trial_add(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """A new trial came from the search algorithm (greenroom's hook; Ray has none)."""

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """The trial's actor was started (also on each restart: after a pause, a retry, an exploit)."""

    def on_trial_restore(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """The trial started again from its checkpoint."""

    def on_trial_save(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """The trial saved a checkpoint."""

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        """The trial reported ``result`` (before the scheduler decides on it)."""

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """The trial finished (it returned, was stopped, or the scheduler ended it)."""

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """The trial failed and will be retried (``max_failures``)."""

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """The trial failed for good; it is in ERROR."""

    def on_checkpoint(self, iteration: int, trials: list, trial: Any, checkpoint: Any, **info: Any) -> None:
        """The trial saved ``checkpoint`` (a ``tune.Checkpoint``)."""

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        """Every trial has ended (or the run was interrupted or failed)."""

    def get_state(self) -> dict | None:
        """The callback's state to keep with the experiment; None if it has none."""
        return None

    def set_state(self, state: dict) -> None:
        """Restore what ``get_state`` returned."""


_HOOKS = (
    "setup", "on_step_begin", "on_step_end", "on_trial_add", "on_trial_start", "on_trial_restore",
    "on_trial_save", "on_trial_result", "on_trial_complete", "on_trial_recover", "on_trial_error",
    "on_checkpoint", "on_experiment_end",
)  # fmt: skip


class CallbackList(Callback):
    """Calls each hook on every callback of ``callbacks``, in order."""

    def __init__(self, callbacks: list) -> None:
        self._callbacks = list(callbacks)

    def __iter__(self):
        return iter(self._callbacks)

    def __len__(self) -> int:
        return len(self._callbacks)

    def _call(self, hook: str, **info: Any) -> None:
        for callback in self._callbacks:
            fn = getattr(callback, hook, None)
            if fn is not None:
                fn(**info)

    def get_state(self) -> dict | None:
        states = {i: cb.get_state() for i, cb in enumerate(self._callbacks) if hasattr(cb, "get_state")}
        return states if any(states.values()) else None

    def set_state(self, state: dict) -> None:
        for i, cb in enumerate(self._callbacks):
            if state.get(i) and hasattr(cb, "set_state"):
                cb.set_state(state[i])


def _dispatcher(hook: str) -> Any:
    def call(self: CallbackList, **info: Any) -> None:
        self._call(hook, **info)

    call.__name__ = hook
    call.__doc__ = f"Call ``{hook}`` on each callback."
    return call


for _hook in _HOOKS:
    setattr(CallbackList, _hook, _dispatcher(_hook))
