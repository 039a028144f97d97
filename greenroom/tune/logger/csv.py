"""``progress.csv``: one row per result, nested keys flattened with '/' (``{"a": {"b": 1}}`` -> ``a/b``).

The columns are the first result's keys, without ``config``; a trial that
resumes appends under the header already in its file.
"""

from __future__ import annotations

import csv
import os
from typing import IO, Any

from greenroom.tune.logger.logger import Logger, LoggerCallback
from greenroom.tune.result import EXPR_PROGRESS_FILE
from greenroom.tune.storage import flatten, jsonable


class _ProgressCsv:
    """One trial's open ``progress.csv``."""

    def __init__(self, trial_dir: str) -> None:
        os.makedirs(trial_dir, exist_ok=True)
        path = os.path.join(trial_dir, EXPR_PROGRESS_FILE)
        self._columns: list[str] | None = None
        if os.path.exists(path) and os.path.getsize(path) > 0:
            with open(path, newline="") as f:
                self._columns = next(csv.reader(f), None)
        self._file: IO[str] = open(path, "a", newline="")
        self._writer = csv.writer(self._file)

    def write(self, result: dict) -> None:
        row = flatten(jsonable({k: v for k, v in result.items() if k != "config"}))
        if self._columns is None:
            self._columns = list(row)
            self._writer.writerow(self._columns)
        self._writer.writerow([row.get(k, "") for k in self._columns])
        self._file.flush()

    def flush(self) -> None:
        if not self._file.closed:
            self._file.flush()

    def close(self) -> None:
        self._file.close()


class CSVLoggerCallback(LoggerCallback):
    """Writes each trial's results to ``progress.csv`` in its directory."""

    def __init__(self) -> None:
        self._files: dict[str, _ProgressCsv] = {}

    def log_trial_result(self, iteration: int, trial: Any, result: dict) -> None:
        out = self._files.get(trial.trial_id)
        if out is None:
            out = self._files[trial.trial_id] = _ProgressCsv(trial.path)
        out.write(result)

    def log_trial_end(self, trial: Any, failed: bool = False) -> None:
        out = self._files.pop(trial.trial_id, None)
        if out is not None:
            out.close()

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        for trial_id in list(self._files):
            self._files.pop(trial_id).close()


class CSVLogger(Logger):
    """The per-trial ``Logger`` form of ``CSVLoggerCallback``."""

    def _init(self) -> None:
        self._out: _ProgressCsv | None = None

    def on_result(self, result: dict) -> None:
        if self._out is None:
            self._out = _ProgressCsv(self.logdir)
        self._out.write(result)

    def flush(self) -> None:
        if self._out is not None:
            self._out.flush()

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
