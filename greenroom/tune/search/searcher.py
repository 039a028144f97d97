"""The ``Searcher`` base class, as ``ray.tune.search.Searcher``.

A searcher proposes configs (``suggest``) and learns from results
(``on_trial_result``, ``on_trial_complete``). It is pure and synchronous: the
trial runner drives it through ``SearchGenerator`` and never from two threads.
"""

from __future__ import annotations

import os
import pickle
from typing import Any

__all__ = ["DEFAULT_METRIC", "Searcher", "validate_mode"]

DEFAULT_METRIC = "_metric"  # Ray's name for an anonymous metric when only a mode is given


def validate_mode(mode: Any, owner: str = "Searcher") -> str | None:
    """``mode`` if it is None, "min" or "max"; ValueError otherwise."""
    if mode is not None and mode not in ("min", "max"):
        raise ValueError(f"{owner} mode must be 'min' or 'max', got mode={mode!r}")
    return mode


class Searcher:
    """Base class for search algorithms that suggest one config per trial.

    Subclasses implement ``suggest`` and usually ``on_trial_complete``.

    Args:
        metric: the result key to optimise.
        mode: "min" or "max".

    Raises:
        ValueError: ``mode`` is not "min", "max" or None.
    """

    FINISHED = "FINISHED"
    CKPT_FILE_TMPL = "searcher-state-{}.pkl"

    def __init__(self, metric: str | None = None, mode: str | None = None) -> None:
        self._metric = metric
        self._mode = validate_mode(mode, type(self).__name__)

    @property
    def metric(self) -> str | None:
        """The result key this searcher optimises."""
        return self._metric

    @property
    def mode(self) -> str | None:
        """ "min" or "max"."""
        return self._mode

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        """Offer the experiment's metric, mode and param_space.

        Returns:
            True if the searcher took them (it will suggest values for the
            space's domains); False, the default, if it keeps its own.
        """
        return False

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        """Return True if the searcher limits concurrency itself (then ConcurrencyLimiter defers)."""
        return False

    def suggest(self, trial_id: str) -> dict | str | None:
        """A config for a new trial ``trial_id``.

        Returns:
            A dict of parameter values; None if it has nothing right now (try
            again later); ``Searcher.FINISHED`` if the search is over.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement suggest(trial_id)")

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        """An intermediate result of trial ``trial_id``; optional."""

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        """Trial ``trial_id`` ended with last ``result``, or ``error`` if it failed."""

    def add_evaluated_point(
        self,
        parameters: dict,
        value: float,
        error: bool = False,
        pruned: bool = False,
        intermediate_values: list[float] | None = None,
    ) -> None:
        """Tell the searcher about a point evaluated outside this search; optional."""
        raise NotImplementedError(f"{type(self).__name__} does not support add_evaluated_point()")

    def get_state(self) -> dict:
        """The searcher's state to pickle; default: its attributes."""
        return self.__dict__.copy()

    def set_state(self, state: dict) -> None:
        """Restore from ``get_state()``."""
        self.__dict__.update(state)

    def save(self, checkpoint_path: str) -> None:
        """Pickle ``get_state()`` to ``checkpoint_path``.

        Raises:
            TypeError: the state cannot be pickled; override get_state/save.
        """
        try:
            data = pickle.dumps(self.get_state())
        except Exception as exc:
            raise TypeError(
                f"{type(self).__name__} state could not be pickled for {checkpoint_path!r}: {exc}; "
                "override get_state()/set_state() or save()/restore() to keep only picklable state"
            ) from exc
        with open(checkpoint_path, "wb") as f:
            f.write(data)

    def restore(self, checkpoint_path: str) -> None:
        """Load what ``save`` wrote to ``checkpoint_path``."""
        with open(checkpoint_path, "rb") as f:
            self.set_state(pickle.load(f))

    def save_to_dir(self, checkpoint_dir: str, session_str: str = "default") -> None:
        """``save`` into ``checkpoint_dir`` under Ray's file name."""
        self.save(os.path.join(checkpoint_dir, self.CKPT_FILE_TMPL.format(session_str)))

    def restore_from_dir(self, checkpoint_dir: str) -> None:
        """``restore`` the newest ``save_to_dir`` file in ``checkpoint_dir``.

        Raises:
            FileNotFoundError: there is none.
        """
        prefix, suffix = self.CKPT_FILE_TMPL.split("{}")
        names = [n for n in os.listdir(checkpoint_dir) if n.startswith(prefix) and n.endswith(suffix)]
        if not names:
            raise FileNotFoundError(
                f"no {type(self).__name__} checkpoint ({self.CKPT_FILE_TMPL.format('*')}) in {checkpoint_dir!r}"
            )
        newest = max(names, key=lambda n: os.path.getmtime(os.path.join(checkpoint_dir, n)))
        self.restore(os.path.join(checkpoint_dir, newest))
