"""Where an experiment's files go, and writing/reading them.

Layout: ``<storage_path>/<name>/experiment_state.json`` plus, per trial,
``<trial dir>/params.json``, ``result.json`` (one JSON line per report),
``progress.csv`` (those three written by the logger callbacks, ``tune.logger``),
``error.txt``/``error.pkl`` and ``checkpoint_NNNNNN/`` directories.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import pickle
from typing import Any

import cloudpickle

from greenroom import _config as config
from greenroom.exceptions import RayTaskError
from greenroom.tune.experiment.trial import Trial
from greenroom.tune.result import EXPR_ERROR_FILE, EXPR_ERROR_PICKLE_FILE, EXPR_RESULT_FILE

STATE_FILE = "experiment_state.json"


def experiment_dir(storage_path: str | None, name: str) -> str:
    root = os.path.expanduser(storage_path or config.results_dir())
    return os.path.join(os.path.abspath(root), name)


def default_name(trainable_name: str) -> str:
    return f"{trainable_name}_{datetime.datetime.now():%Y-%m-%d_%H-%M-%S}"


def jsonable(value: Any) -> Any:
    """``value`` with what JSON cannot hold made plain: numpy scalars, inf/nan as text, others as repr."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
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


def error_file(trial_path: str) -> str:
    """The trial's ``error.txt``: every failure's traceback, appended."""
    return os.path.join(trial_path, EXPR_ERROR_FILE)


def record_error(trial_path: str, text: str, exception: BaseException | None = None) -> None:
    """Append ``text`` to ``error.txt``; keep ``exception`` in ``error.pkl`` (the latest), as Ray does."""
    os.makedirs(trial_path, exist_ok=True)
    with open(error_file(trial_path), "a") as f:
        f.write(text.rstrip() + "\n")
    if exception is None:
        return
    try:
        blob = cloudpickle.dumps(exception)
    except Exception:  # an exception that cannot be pickled: error.txt has its text
        return
    with open(os.path.join(trial_path, EXPR_ERROR_PICKLE_FILE), "wb") as f:
        f.write(blob)


def load_error(trial_path: str | None) -> BaseException | None:
    """The exception ``record_error`` kept for the trial at ``trial_path``, or None."""
    if not trial_path:
        return None
    path = os.path.join(trial_path, EXPR_ERROR_PICKLE_FILE)
    if not os.path.exists(path):
        return None
    try:
        with open(path, "rb") as f:
            error = pickle.load(f)
    except Exception:
        return None
    if isinstance(error, RayTaskError):  # as get() raised it: also an instance of the cause's type
        error = error.as_instanceof_cause()
    return error if isinstance(error, BaseException) else None


def trial_to_state(trial: Trial) -> dict:
    return {
        "trial_id": trial.trial_id,
        "config": jsonable(trial.config),
        "experiment_tag": trial.experiment_tag,
        "status": trial.status,
        "last_result": jsonable(trial.last_result),
        "checkpoint": trial.checkpoint.path if trial.checkpoint is not None else None,
        "checkpoint_iteration": trial.checkpoint_iteration,
        "checkpoint_time": trial.checkpoint_time,
        "path": trial.path,
        "error": trial.error,
        "num_failures": trial.num_failures,
        "evaluated_params": jsonable(trial.evaluated_params),
        "trainable_name": trial.trainable_name,
        "experiment_name": trial.experiment_name,
        "custom_trial_name": trial.custom_trial_name,
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
        evaluated_params=d.get("evaluated_params") or {}, trainable_name=d.get("trainable_name", ""),
        experiment_name=d.get("experiment_name", ""), custom_trial_name=d.get("custom_trial_name"),
    )  # fmt: skip
    return trial


def read_results(trial_path: str) -> list[dict]:
    path = os.path.join(trial_path, EXPR_RESULT_FILE)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]
