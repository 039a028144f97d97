"""Where an experiment's files go, and writing/reading them.

Layout: ``<storage_path>/<name>/experiment_state.json`` plus, per trial,
``<trial dir>/params.json``, ``result.json`` (one JSON line per report),
``progress.csv``, ``error.txt`` and ``checkpoint_NNNNNN/`` directories.
"""

from __future__ import annotations

import csv
import datetime
import json
import math
import os
from typing import Any

from greenroom import _config as config
from greenroom.tune.experiment.trial import Trial

STATE_FILE = "experiment_state.json"


def experiment_dir(storage_path: str | None, name: str) -> str:
    root = os.path.expanduser(storage_path or config.results_dir())
    return os.path.join(os.path.abspath(root), name)


def default_name(trainable_name: str) -> str:
    return f"{trainable_name}_{datetime.datetime.now():%Y-%m-%d_%H-%M-%S}"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        try:
            return item()
        except Exception:
            pass
    return repr(value)


def flatten(result: dict, prefix: str = "") -> dict:
    out: dict = {}
    for k, v in result.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "/"))
        else:
            out[key] = v
    return out


class TrialFiles:
    """Writes one trial's files as results come in."""

    def __init__(self, trial: Trial) -> None:
        self.trial = trial
        self._csv_keys: list[str] | None = None

    def start(self) -> None:
        os.makedirs(self.trial.path, exist_ok=True)
        with open(os.path.join(self.trial.path, "params.json"), "w") as f:
            json.dump(_jsonable(self.trial.config), f, indent=2, sort_keys=True)
        if os.path.exists(os.path.join(self.trial.path, "progress.csv")):
            with open(os.path.join(self.trial.path, "progress.csv")) as f:
                header = f.readline().strip()
            self._csv_keys = header.split(",") if header else None

    def result(self, result: dict) -> None:
        clean = _jsonable(result)
        with open(os.path.join(self.trial.path, "result.json"), "a") as f:
            f.write(json.dumps(clean) + "\n")
        flat = flatten(clean)
        path = os.path.join(self.trial.path, "progress.csv")
        if self._csv_keys is None:
            self._csv_keys = list(flat)
            with open(path, "w", newline="") as f:
                csv.writer(f).writerow(self._csv_keys)
        with open(path, "a", newline="") as f:
            csv.writer(f).writerow([flat.get(k, "") for k in self._csv_keys])

    @property
    def error_path(self) -> str:
        """The trial's ``error.txt``: every failure's traceback, appended."""
        return os.path.join(self.trial.path, "error.txt")

    def error(self, text: str) -> None:
        with open(self.error_path, "a") as f:
            f.write(text.rstrip() + "\n")


def trial_to_state(trial: Trial) -> dict:
    return {
        "trial_id": trial.trial_id,
        "config": _jsonable(trial.config),
        "experiment_tag": trial.experiment_tag,
        "status": trial.status,
        "last_result": _jsonable(trial.last_result),
        "checkpoint": trial.checkpoint.path if trial.checkpoint is not None else None,
        "checkpoint_iteration": trial.checkpoint_iteration,
        "checkpoint_time": trial.checkpoint_time,
        "path": trial.path,
        "error": trial.error,
        "num_failures": trial.num_failures,
        "evaluated_params": _jsonable(trial.evaluated_params),
        "trainable_name": trial.trainable_name,
    }


def save_state(exp_dir: str, trials: list[Trial], extra: dict) -> None:
    os.makedirs(exp_dir, exist_ok=True)
    state = {"trials": [trial_to_state(t) for t in trials], **extra}
    tmp = os.path.join(exp_dir, STATE_FILE + ".tmp")
    with open(tmp, "w") as f:
        json.dump(state, f, indent=1)
    os.replace(tmp, os.path.join(exp_dir, STATE_FILE))


def load_state(exp_dir: str) -> dict:
    path = os.path.join(exp_dir, STATE_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"no experiment at {exp_dir!r} (missing {STATE_FILE}); pass the directory tune.run() "
            "wrote, e.g. ~/greenroom_results/<name>"
        )
    with open(path) as f:
        return json.load(f)


def trial_from_state(d: dict) -> Trial:
    from greenroom.tune.checkpoint import Checkpoint

    trial = Trial(
        trial_id=d["trial_id"], config=d["config"], experiment_tag=d.get("experiment_tag", ""),
        status=d["status"], last_result=d.get("last_result") or {},
        checkpoint=Checkpoint(d["checkpoint"]) if d.get("checkpoint") else None,
        path=d.get("path"), error=d.get("error"), num_failures=d.get("num_failures", 0),
        checkpoint_iteration=d.get("checkpoint_iteration", 0), checkpoint_time=d.get("checkpoint_time", 0.0),
        evaluated_params=d.get("evaluated_params") or {},
    )  # fmt: skip
    trial.trainable_name = d.get("trainable_name", "")
    return trial


def read_results(trial_path: str) -> list[dict]:
    path = os.path.join(trial_path, "result.json")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]
