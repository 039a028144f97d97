"""``result.json`` (one JSON object per line, per result) and ``params.json``/``params.pkl`` (the config)."""

from __future__ import annotations

import json
import os
from typing import IO, Any

import cloudpickle

from greenroom.tune.logger.logger import Logger, LoggerCallback
from greenroom.tune.result import EXPR_PARAM_FILE, EXPR_PARAM_PICKLE_FILE, EXPR_RESULT_FILE
from greenroom.tune.storage import jsonable


def write_params(trial_dir: str, config: dict) -> None:
    """Write ``config`` to ``params.json`` (readable) and ``params.pkl`` (exact)."""
    os.makedirs(trial_dir, exist_ok=True)
    with open(os.path.join(trial_dir, EXPR_PARAM_FILE), "w") as f:
        json.dump(jsonable(config), f, indent=2, sort_keys=True)
    try:
        blob = cloudpickle.dumps(config)
    except Exception:  # a config holding something unpicklable: params.json has it as text
        return
    with open(os.path.join(trial_dir, EXPR_PARAM_PICKLE_FILE), "wb") as f:
        f.write(blob)


def _open_results(trial_dir: str) -> IO[str]:
    os.makedirs(trial_dir, exist_ok=True)
    return open(os.path.join(trial_dir, EXPR_RESULT_FILE), "a")


def _write_result(out: IO[str], result: dict) -> None:
    out.write(json.dumps(jsonable(result)) + "\n")
    out.flush()


class JsonLoggerCallback(LoggerCallback):
    """Writes each trial's config to ``params.json`` when it starts and its results to ``result.json``."""

    def __init__(self) -> None:
        self._files: dict[str, IO[str]] = {}

    def log_trial_start(self, trial: Any) -> None:
        old = self._files.pop(trial.trial_id, None)
        if old is not None:
            old.close()
        write_params(trial.path, trial.config)  # again after a PBT exploit changed it
        self._files[trial.trial_id] = _open_results(trial.path)

    def log_trial_result(self, iteration: int, trial: Any, result: dict) -> None:
        if trial.trial_id not in self._files:
            self.log_trial_start(trial)
        _write_result(self._files[trial.trial_id], result)

    def log_trial_end(self, trial: Any, failed: bool = False) -> None:
        out = self._files.pop(trial.trial_id, None)
        if out is not None:
            out.close()

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        for trial_id in list(self._files):
            self._files.pop(trial_id).close()


class JsonLogger(Logger):
    """The per-trial ``Logger`` form of ``JsonLoggerCallback``."""

    def _init(self) -> None:
        self.update_config(self.config)
        self._out = _open_results(self.logdir)

    def on_result(self, result: dict) -> None:
        _write_result(self._out, result)

    def update_config(self, config: dict) -> None:
        self.config = config
        write_params(self.logdir, config)

    def flush(self) -> None:
        if not self._out.closed:
            self._out.flush()

    def close(self) -> None:
        self._out.close()
