"""``tune.Callback``: hooks the runner calls as trials start, report, finish and fail."""

from __future__ import annotations

from typing import Any


class Callback:
    """Override any of these; each gets ``iteration``, ``trials``, ``trial`` (and ``result``)."""

    def on_trial_add(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        pass

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        pass

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        pass

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        pass

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        pass
