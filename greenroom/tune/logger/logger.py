"""``Logger`` (per trial, the older API), ``LoggerCallback`` (per experiment) and ``pretty_print``.

A ``LoggerCallback`` is a ``tune.Callback`` whose trial hooks call the
``log_trial_*`` methods; it must close what it opened for a trial in
``log_trial_end``. Every experiment has the CSV and JSON logger callbacks
(and the TensorBoardX one where ``tensorboardX`` is installed), added unless
the run already has one of each (``tune.utils.callback``): they write each
trial's ``progress.csv``, ``result.json`` and ``params.json``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from greenroom.tune.callback import Callback
from greenroom.tune.storage import jsonable


class Logger:
    """Logs one trial's results (Ray's per-trial logger API; prefer ``LoggerCallback``).

    Args:
        config: the trial's config.
        logdir: the trial's directory.
        trial: the trial, or None.
    """

    def __init__(self, config: dict, logdir: str, trial: Any = None) -> None:
        self.config = config
        self.logdir = logdir
        self.trial = trial
        self._init()

    def _init(self) -> None:
        """Open what ``on_result`` writes to."""

    def on_result(self, result: dict) -> None:
        """Append ``result`` to the log."""
        raise NotImplementedError(f"{type(self).__name__} must implement on_result(result)")

    def update_config(self, config: dict) -> None:
        """The trial's config changed (a PBT exploit)."""

    def close(self) -> None:
        """Release files and handles."""

    def flush(self) -> None:
        """Write buffered output to disk."""


class LoggerCallback(Callback):
    """An experiment-wide logger: override the ``log_trial_*`` methods."""

    def log_trial_start(self, trial: Any) -> None:
        """The trial started (again)."""

    def log_trial_restore(self, trial: Any) -> None:
        """The trial was restored from its checkpoint."""

    def log_trial_save(self, trial: Any) -> None:
        """The trial saved a checkpoint."""

    def log_trial_result(self, iteration: int, trial: Any, result: dict) -> None:
        """The trial reported ``result``."""

    def log_trial_end(self, trial: Any, failed: bool = False) -> None:
        """The trial ended (``failed``: in ERROR); close what was opened for it."""

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.log_trial_start(trial)

    def on_trial_restore(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.log_trial_restore(trial)

    def on_trial_save(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.log_trial_save(trial)

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        self.log_trial_result(iteration, trial, result)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.log_trial_end(trial, failed=False)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.log_trial_end(trial, failed=True)


class LegacyLoggerCallback(LoggerCallback):
    """Runs per-trial ``Logger`` classes: one instance of each per trial.

    Args:
        logger_classes: ``Logger`` subclasses to instantiate for every trial.
    """

    def __init__(self, logger_classes: Iterable[type[Logger]]) -> None:
        self.logger_classes = list(logger_classes)
        self._loggers: dict[str, list[Logger]] = {}

    def log_trial_start(self, trial: Any) -> None:
        loggers = self._loggers.get(trial.trial_id)
        if loggers is None:
            self._loggers[trial.trial_id] = [
                cls(trial.config, trial.path, trial) for cls in self.logger_classes
            ]
        else:
            for logger in loggers:
                logger.update_config(trial.config)

    def log_trial_restore(self, trial: Any) -> None:
        for logger in self._loggers.get(trial.trial_id, []):
            logger.flush()

    def log_trial_save(self, trial: Any) -> None:
        for logger in self._loggers.get(trial.trial_id, []):
            logger.flush()

    def log_trial_result(self, iteration: int, trial: Any, result: dict) -> None:
        for logger in self._loggers.get(trial.trial_id, []):
            logger.on_result(result)

    def log_trial_end(self, trial: Any, failed: bool = False) -> None:
        for logger in self._loggers.pop(trial.trial_id, []):
            logger.close()

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        for trial_id in list(self._loggers):
            for logger in self._loggers.pop(trial_id):
                logger.close()


def pretty_print(result: dict) -> str:
    """``result`` as YAML text (without ``config`` and ``hist_stats``), for printing."""
    out = {k: v for k, v in result.items() if k not in ("config", "hist_stats") and v is not None}
    clean = jsonable(out)
    try:
        import yaml
    except ImportError:  # PyYAML is optional: the same nesting, indented JSON
        return json.dumps(clean, indent=2, sort_keys=True) + "\n"
    return yaml.safe_dump(clean, default_flow_style=False)
