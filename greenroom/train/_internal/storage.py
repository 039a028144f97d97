"""Where a training run's checkpoints and results go, and keeping them.

Layout of ``fit()`` (``RunConfig(storage_path, name)``, as Ray's)::

    <storage_path or ~/greenroom_results>/<name>/
        params.json                 train_loop_config
        result.json, progress.csv   rank 0's reports, one row each
        checkpoint_000000/ ...      committed checkpoints (or the name given to train.report)
        run_state.json              the kept checkpoints with their metrics; finished or not
        .staging/                   checkpoints being written, gone when the run ends

A ``fit()`` whose directory holds an unfinished run (a crashed driver, a Tune
trial that failed and was retried) resumes it from its latest checkpoint and
appends to its results, as Ray Train V2 does for the same ``(storage_path,
name)``; after a finished run, a new one starts fresh (its checkpoints are
numbered on).

Inside a ``Tuner(trainer)`` trial the run's directory is the trial's: Tune
writes the results, and each checkpoint is committed straight into the
directory the trial would copy it to (``TrialSession.next_checkpoint_dir``),
so it is never copied twice.

Workers copy a reported checkpoint into a staging directory before their
``report()`` returns (the loop may delete its own directory right after);
once every rank has reported, the coordinator commits it with one rename.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from collections.abc import Callable
from typing import Any

from greenroom.tune.checkpoint import Checkpoint
from greenroom.tune.execution.retention import checkpoints_to_delete
from greenroom.tune.storage import flatten

STATE_FILE = "run_state.json"


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)  # numpy and torch scalars
    if callable(item):
        try:
            return item()
        except Exception:
            pass
    return repr(value)


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_plain)


class RunStorage:
    """One run's directory (see the module docstring).

    Args:
        run_dir: the run's directory (created).
        keep: a CheckpointConfig whose ``num_to_keep``/score settings prune old checkpoints, or None.
        results: write ``result.json``/``progress.csv`` (False inside a Tune trial: Tune writes them).
        target: where the next checkpoint must go (a Tune trial's choice); None to number them here.
    """

    def __init__(self, run_dir: str, *, keep: Any = None, results: bool = True,
                 target: Callable[[], str] | None = None) -> None:  # fmt: skip
        self.run_dir = run_dir
        self.keep = keep
        self.results = results
        self.target = target
        self.checkpoints: list[tuple[Checkpoint, dict]] = []  # kept, oldest first
        self.latest: Checkpoint | None = None
        self.resumed = False
        self._csv_keys: list[str] | None = None
        os.makedirs(run_dir, exist_ok=True)
        self._index = _next_index(run_dir)
        if target is None:
            self._start()

    def _start(self) -> None:
        state = read_state(self.run_dir)
        if state is not None and not state.get("finished"):
            kept = [
                (Checkpoint(os.path.join(self.run_dir, name)), m) for name, m in state.get("checkpoints", [])
            ]
            self.checkpoints = [(c, m) for c, m in kept if os.path.isdir(c.path)]
            if self.checkpoints:
                self.latest = self.checkpoints[-1][0]
                self.resumed = True
        if self.resumed:
            header = os.path.join(self.run_dir, "progress.csv")
            if os.path.exists(header):
                with open(header, newline="") as f:
                    self._csv_keys = next(csv.reader(f), None)
        else:
            for name in ("result.json", "progress.csv"):
                if os.path.exists(os.path.join(self.run_dir, name)):
                    os.remove(os.path.join(self.run_dir, name))
        self._write_state(finished=False)

    @property
    def staging(self) -> str:
        return os.path.join(self.run_dir, ".staging")

    def staging_root(self, attempt: int) -> str:
        """Where this attempt's workers stage checkpoints (one directory per report)."""
        return os.path.join(self.staging, f"attempt_{attempt:03d}")

    def write_params(self, config: Any) -> None:
        if self.results:
            with open(os.path.join(self.run_dir, "params.json"), "w") as f:
                f.write(_dumps(config or {}))

    def commit(self, staged: str, metrics: dict, dir_name: str | None = None) -> Checkpoint:
        """Move a complete report's staged checkpoint into place; prune beyond ``num_to_keep``."""
        if self.target is not None:
            path = self.target()
        else:
            path = os.path.join(self.run_dir, dir_name or f"checkpoint_{self._index:06d}")
            self._index += 1
        if os.path.exists(path):
            shutil.rmtree(path)
        os.replace(staged, path)
        checkpoint = Checkpoint(path)
        self.latest = checkpoint
        self.checkpoints.append((checkpoint, metrics))
        self._prune()
        if self.target is None:
            self._write_state(finished=False)
        return checkpoint

    def finish(self) -> None:
        """The run ended well: a later fit() of the same name starts fresh."""
        if self.target is None:
            self._write_state(finished=True)

    def _write_state(self, finished: bool) -> None:
        state = {
            "finished": finished,
            "checkpoints": [[os.path.basename(c.path), m] for c, m in self.checkpoints],
        }
        tmp = os.path.join(self.run_dir, STATE_FILE + ".tmp")
        with open(tmp, "w") as f:
            f.write(_dumps(state))
        os.replace(tmp, os.path.join(self.run_dir, STATE_FILE))

    def _prune(self) -> None:
        keep = self.keep
        if keep is None or not keep.num_to_keep or self.target is not None:
            return
        kept = [(c.path, m) for c, m in self.checkpoints]
        doomed = checkpoints_to_delete(
            kept, keep.num_to_keep, keep.checkpoint_score_attribute, keep.checkpoint_score_order
        )
        for path, _ in doomed:
            shutil.rmtree(path, ignore_errors=True)
        gone = {path for path, _ in doomed}
        self.checkpoints = [(c, m) for c, m in self.checkpoints if c.path not in gone]

    def record(self, metrics: dict) -> None:
        """Append rank 0's report to ``result.json`` and ``progress.csv``."""
        if not self.results:
            return
        line = _dumps(metrics)
        with open(os.path.join(self.run_dir, "result.json"), "a") as f:
            f.write(line + "\n")
        flat = flatten(json.loads(line))
        path = os.path.join(self.run_dir, "progress.csv")
        if self._csv_keys is None:
            self._csv_keys = list(flat)
            with open(path, "w", newline="") as f:
                csv.writer(f).writerow(self._csv_keys)
        with open(path, "a", newline="") as f:
            csv.writer(f).writerow([flat.get(k, "") for k in self._csv_keys])

    def clear_staging(self) -> None:
        """Drop what a failed or finished attempt staged but never committed."""
        shutil.rmtree(self.staging, ignore_errors=True)


def read_state(run_dir: str) -> dict | None:
    """A run directory's ``run_state.json``, or None."""
    path = os.path.join(run_dir, STATE_FILE)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def read_results(run_dir: str) -> list[dict]:
    """The rows of a run's ``result.json``, oldest first."""
    path = os.path.join(run_dir, "result.json")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def _next_index(run_dir: str) -> int:
    numbers = [
        int(n[len("checkpoint_") :]) for n in os.listdir(run_dir)
        if n.startswith("checkpoint_") and n[len("checkpoint_") :].isdigit()
    ]  # fmt: skip
    return max(numbers) + 1 if numbers else 0
