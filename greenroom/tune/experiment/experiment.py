"""``tune.Experiment``: one experiment's specification, for ``tune.run`` and ``tune.run_experiments``.

It registers its trainable under the trainable's name (``tune.run`` then finds
it by that name) and keeps the rest of its arguments in ``spec``, as Ray does.
"""

from __future__ import annotations

import copy
import datetime
import os
from collections.abc import Mapping, Sequence
from typing import Any, Callable

from greenroom.tune.error import TuneError
from greenroom.tune.registry import register_trainable, trainable_name
from greenroom.tune.stopper import CombinedStopper, FunctionStopper, Stopper, TimeoutStopper
from greenroom.tune.storage import default_name, experiment_dir

__all__ = ["Experiment", "convert_to_experiment_list"]


class Experiment:
    """Tracks an experiment's specification; its arguments mean what they mean to ``tune.run``.

    Args:
        name: the experiment's name and directory; None: the trainable's name and the date.
        run: a function, a ``tune.Trainable`` class, or the name of a registered trainable.
        stop: a dict of result thresholds (per trial), a function ``(trial_id, result) -> bool``,
            a ``tune.Stopper``, or a list of Stoppers.
        time_budget_s: seconds (or a timedelta) after which every trial stops.
        config: the search space.
        resources_per_trial: a dict or a ``tune.PlacementGroupFactory``.
        num_samples: samples of ``config`` (grid values multiply them).
        storage_path: where the experiment directory goes (``local_dir`` is the older name).
        checkpoint_config: a ``tune.CheckpointConfig`` or a dict of its fields.
        trial_name_creator, trial_dirname_creator: ``f(trial) -> str``.
        max_failures: retries of a failed trial.
        log_to_file, sync_config, export_formats, restore, storage_filesystem: accepted for
            compatibility; a trial's output stays on the console, storage is local.
    Raises:
        TuneError: ``run`` is not a trainable or a string.
        ValueError: a bad ``stop``.
    """

    PUBLIC_KEYS = {"stop", "num_samples", "time_budget_s"}

    def __init__(
        self,
        name: str | None,
        run: str | Callable | type,
        *,
        stop: Any = None,
        time_budget_s: float | datetime.timedelta | None = None,
        config: dict | None = None,
        resources_per_trial: Any = None,
        num_samples: int = 1,
        storage_path: str | None = None,
        storage_filesystem: Any = None,
        sync_config: Any = None,
        checkpoint_config: Any = None,
        trial_name_creator: Callable | None = None,
        trial_dirname_creator: Callable | None = None,
        log_to_file: Any = False,
        export_formats: Sequence | None = None,
        max_failures: int = 0,
        restore: str | None = None,
        local_dir: str | None = None,
        _experiment_checkpoint_dir: str | None = None,
    ) -> None:
        from greenroom.tune.config import CheckpointConfig

        if isinstance(checkpoint_config, dict):
            checkpoint_config = CheckpointConfig(**checkpoint_config)
        self._run_identifier = Experiment.register_if_needed(run)
        self._trainable = None if isinstance(run, str) else run  # its own: another may take the name later
        self.name = name or self._run_identifier
        if _experiment_checkpoint_dir:
            self.dir_name = os.path.basename(_experiment_checkpoint_dir)
            storage_path = os.path.dirname(_experiment_checkpoint_dir)
        elif name or isinstance(run, str) or os.environ.get("TUNE_DISABLE_DATED_SUBDIR") == "1":
            self.dir_name = self.name
        else:
            self.dir_name = default_name(self.name)
        self._stopper, criteria = _stoppers(stop)
        if time_budget_s:
            budget = TimeoutStopper(time_budget_s)
            self._stopper = CombinedStopper(self._stopper, budget) if self._stopper else budget
        self.spec = {
            "run": self._run_identifier, "stop": criteria, "time_budget_s": time_budget_s,
            "config": config or {}, "resources_per_trial": resources_per_trial, "num_samples": num_samples,
            "storage_path": storage_path or local_dir,
            "checkpoint_config": checkpoint_config or CheckpointConfig(),
            "trial_name_creator": trial_name_creator, "trial_dirname_creator": trial_dirname_creator,
            "log_to_file": log_to_file, "export_formats": list(export_formats or []),
            "max_failures": max_failures, "restore": restore, "sync_config": sync_config,
            "storage_filesystem": storage_filesystem,
        }  # fmt: skip

    @classmethod
    def from_json(cls, name: str, spec: Mapping) -> Experiment:
        """An Experiment from a dict like ``{"run": fn, "config": {...}, "stop": {...}}``.

        Raises:
            TuneError: no ``run``, or a key that is not an argument of Experiment.
        """
        if "run" not in spec:
            raise TuneError(f"experiment {name!r} has no trainable: add 'run' to its spec")
        spec = copy.copy(dict(spec))
        if "env" in spec:  # RLlib's shorthand: the environment goes into the config
            spec["config"] = {**spec.get("config", {}), "env": spec.pop("env")}
        run = spec.pop("run")
        try:
            return cls(name, run, **spec)
        except TypeError as e:
            raise TuneError(f"Improper argument from JSON for experiment {name!r}: {e}") from None

    @classmethod
    def get_trainable_name(cls, run_object: Any) -> str:
        """The name a trainable is registered under (its ``__name__``; "lambda" for a lambda).

        Raises:
            TuneError: ``run_object`` is neither a string nor a trainable.
        """
        if not isinstance(run_object, str) and not callable(run_object):
            raise TuneError(f"Improper 'run' - not string nor trainable: {run_object!r:.100}")
        return trainable_name(run_object)

    @classmethod
    def register_if_needed(cls, run_object: Any) -> str:
        """Register ``run_object`` under its name (a string is taken as already registered)."""
        name = cls.get_trainable_name(run_object)
        if not isinstance(run_object, str):
            register_trainable(name, run_object, warn=False)
        return name

    @property
    def run_identifier(self) -> str:
        """The registered name of the experiment's trainable."""
        return self._run_identifier

    @property
    def stopper(self) -> Stopper | None:
        """The experiment-wide stopper (a function, a Stopper, or the time budget), or None."""
        return self._stopper

    @property
    def path(self) -> str:
        """The experiment directory."""
        return experiment_dir(self.spec["storage_path"], self.dir_name)

    @property
    def checkpoint_config(self) -> Any:
        return self.spec["checkpoint_config"]

    @property
    def public_spec(self) -> dict:
        """The parts of ``spec`` that searchers and schedulers are told."""
        return {k: v for k, v in self.spec.items() if k in self.PUBLIC_KEYS}

    def __repr__(self) -> str:
        return f"Experiment(name={self.name!r}, run={self._run_identifier!r})"


def _stoppers(stop: Any) -> tuple[Stopper | None, dict]:
    """(experiment-wide stopper, per-trial dict criteria) for Ray's forms of ``stop``."""
    if not stop:
        return None, {}
    if isinstance(stop, list):
        bad = [type(s) for s in stop if not isinstance(s, Stopper)]
        if bad:
            raise ValueError(f"a list given as `stop` must hold tune.Stopper objects only, got {bad}")
        return CombinedStopper(*stop), {}
    if isinstance(stop, dict):
        return None, dict(stop)
    if isinstance(stop, Stopper):
        return stop, {}
    if callable(stop) and FunctionStopper.is_valid_function(stop):
        return FunctionStopper(stop), {}
    raise ValueError(
        f"Invalid stop criteria: {stop!r}. Must be a dict, a function (trial_id, result) -> bool, "
        "a tune.Stopper or a list of them."
    )


def convert_to_experiment_list(experiments: Any) -> list[Experiment]:
    """An Experiment, a list of them, or a dict ``{name: spec}`` (``Experiment.from_json``), as a list.

    Raises:
        TuneError: anything else.
    """
    if experiments is None:
        return []
    if isinstance(experiments, Experiment):
        return [experiments]
    if isinstance(experiments, Mapping):
        return [Experiment.from_json(name, spec) for name, spec in experiments.items()]
    if isinstance(experiments, (list, tuple)) and all(isinstance(e, Experiment) for e in experiments):
        return list(experiments)
    raise TuneError(f"Invalid argument type for experiments: {type(experiments)}; pass an Experiment, "
                    "a list of Experiments, or a dict {name: spec}")  # fmt: skip


_convert_to_experiment_list = convert_to_experiment_list  # Ray's private name
