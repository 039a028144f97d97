"""TensorBoard event files for each trial, through ``tensorboardX`` (an optional package).

Scalars go under ``ray/tune/<metric>`` (nested keys joined with '/'), stepped
by ``timesteps_total`` or else ``training_iteration``; lists and arrays become
histograms (5-D arrays, videos). When a trial ends, its sampled
hyperparameters and last scalars are written as TensorBoard hparams.
Constructing either class without ``tensorboardX`` raises ImportError; the
default callbacks then simply leave it out.
"""

from __future__ import annotations

import logging
import math
import numbers
from typing import Any

from greenroom.tune.logger.logger import Logger, LoggerCallback
from greenroom.tune.result import TIME_TOTAL_S, TIMESTEPS_TOTAL, TRAINING_ITERATION
from greenroom.tune.storage import flatten

logger = logging.getLogger(__name__)

_SKIPPED = ("config", "pid", "timestamp", TIME_TOTAL_S, TRAINING_ITERATION)
_HPARAM_TYPES = (str, bool, int, float, list, type(None))


def _summary_writer_class() -> Any:
    try:
        from tensorboardX import SummaryWriter
    except ImportError as e:
        raise ImportError(
            "TBXLoggerCallback needs tensorboardX: pip install tensorboardX "
            "(greenroom does not install it; without it no TensorBoard files are written)"
        ) from e
    return SummaryWriter


def _is_scalar(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    return not math.isnan(float(value))


class _TrialWriter:
    """One trial's SummaryWriter and its last scalars (for hparams)."""

    def __init__(self, writer_cls: Any, trial_dir: str) -> None:
        self.writer = writer_cls(trial_dir, flush_secs=30)
        self.last: dict[str, Any] = {}

    def write(self, result: dict) -> None:
        step = result.get(TIMESTEPS_TOTAL) or result[TRAINING_ITERATION]
        values = flatten({k: v for k, v in result.items() if k not in _SKIPPED})
        logged = {}
        for name, value in values.items():
            tag = f"ray/tune/{name}"
            if _is_scalar(value):
                logged[tag] = value
                self.writer.add_scalar(tag, value, global_step=step)
            elif self._is_series(value):
                logged[tag] = value
                self._add_series(tag, value, step)
        self.last = logged
        self.writer.flush()

    @staticmethod
    def _is_series(value: Any) -> bool:
        size = getattr(value, "size", None)
        return (isinstance(value, list) and len(value) > 0) or (
            size is not None and hasattr(value, "ndim") and size > 0
        )

    def _add_series(self, tag: str, value: Any, step: int) -> None:
        if getattr(value, "ndim", 0) == 5:
            self.writer.add_video(tag, value, global_step=step, fps=20)
            return
        try:
            self.writer.add_histogram(tag, value, global_step=step)
        except (ValueError, TypeError):
            logger.warning("TBXLoggerCallback: %s=%r is not a valid histogram; not logged", tag, value)

    def close(self, evaluated_params: dict) -> None:
        scalars = {k: v for k, v in self.last.items() if _is_scalar(v)}
        if evaluated_params and scalars:
            self._hparams(evaluated_params, scalars)
        self.writer.close()

    def _hparams(self, params: dict, metrics: dict) -> None:
        clean = {}
        for key, value in flatten(params).items():
            item = getattr(value, "item", None)  # numpy scalars
            value = item() if callable(item) and not isinstance(value, _HPARAM_TYPES) else value
            if isinstance(value, _HPARAM_TYPES):
                clean[key] = value
        try:
            from tensorboardX.summary import hparams

            for summary in hparams(hparam_dict=clean, metric_dict=metrics):
                self.writer.file_writer.add_summary(summary)
        except Exception:
            logger.exception("TBXLoggerCallback could not write hparams %r", clean)


class TBXLoggerCallback(LoggerCallback):
    """Writes each trial's results as TensorBoard events in its directory.

    Raises:
        ImportError: tensorboardX is not installed.
    """

    def __init__(self) -> None:
        self._writer_cls = _summary_writer_class()
        self._writers: dict[str, _TrialWriter] = {}

    def log_trial_start(self, trial: Any) -> None:
        old = self._writers.pop(trial.trial_id, None)
        if old is not None:
            old.writer.close()
        self._writers[trial.trial_id] = _TrialWriter(self._writer_cls, trial.path)

    def log_trial_result(self, iteration: int, trial: Any, result: dict) -> None:
        if trial.trial_id not in self._writers:
            self.log_trial_start(trial)
        self._writers[trial.trial_id].write(result)

    def log_trial_end(self, trial: Any, failed: bool = False) -> None:
        writer = self._writers.pop(trial.trial_id, None)
        if writer is not None:
            writer.close(trial.evaluated_params)

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        for trial_id in list(self._writers):
            self._writers.pop(trial_id).writer.close()


class TBXLogger(Logger):
    """The per-trial ``Logger`` form of ``TBXLoggerCallback``.

    Raises:
        ImportError: tensorboardX is not installed.
    """

    def _init(self) -> None:
        self._writer = _TrialWriter(_summary_writer_class(), self.logdir)

    def on_result(self, result: dict) -> None:
        self._writer.write(result)

    def flush(self) -> None:
        self._writer.writer.flush()

    def close(self) -> None:
        params = getattr(self.trial, "evaluated_params", None) or {}
        self._writer.close(params)
