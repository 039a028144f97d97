"""``DataParallelTrainer``: run ``train_loop_per_worker`` on every worker of a group, as Ray Train's.

``fit()`` runs it now (the coordinator is the calling process: the driver, or a
Tune trial for Ray Train V2's pattern). ``Tuner(trainer, param_space=...)``
runs one trainer per trial (Ray Train V1's pattern): each trial reserves the
coordinator's and the workers' bundles at once (``ScalingConfig.
as_placement_group_factory()``), so trials run as many at once as the node holds.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import greenroom as ray
from greenroom.train._internal.controller import TRIAL, TrainRun
from greenroom.train.backend import BackendConfig
from greenroom.train.config import ScalingConfig
from greenroom.train.result import Result
from greenroom.tune.checkpoint import Checkpoint
from greenroom.tune.search.sample import Domain
from greenroom.tune.tune import with_resources
from greenroom.tune.tuner import RunConfig


class DataParallelTrainer:
    """A data-parallel training run: ``scaling_config.num_workers`` workers each run the loop.

    Args:
        train_loop_per_worker: ``fn(config)`` or ``fn()``, run in every worker.
        train_loop_config: the dict passed to it.
        backend_config: what to set up on the workers (TorchTrainer: ``TorchConfig``).
        scaling_config: workers and their resources; default 1 CPU worker.
        run_config: name, storage_path, failure_config (retries), checkpoint_config, callbacks.
        datasets: ``{name: list/array/DataFrame}``; each worker gets an even slice
            (``train.get_dataset_shard(name)``).
        metadata: a dict the workers read with ``get_context().get_metadata()``.
        resume_from_checkpoint: the checkpoint ``train.get_checkpoint()`` starts with.
    Raises:
        TypeError, ValueError: bad arguments, at once.
    """

    _backend_config_cls: type = BackendConfig
    _backend_config_key = "backend_config"

    def __init__(
        self,
        train_loop_per_worker: Callable,
        *,
        train_loop_config: dict | None = None,
        backend_config: BackendConfig | None = None,
        scaling_config: ScalingConfig | None = None,
        dataset_config: Any = None,
        run_config: RunConfig | None = None,
        datasets: dict | None = None,
        metadata: dict | None = None,
        resume_from_checkpoint: Checkpoint | None = None,
    ) -> None:
        if not callable(train_loop_per_worker):
            raise TypeError(f"train_loop_per_worker={train_loop_per_worker!r:.100}: expected a function")
        if len(inspect.signature(train_loop_per_worker).parameters) > 1:
            raise ValueError(
                f"train_loop_per_worker {getattr(train_loop_per_worker, '__name__', '')!r} takes more than one "
                "argument; it is called with train_loop_config alone (or with nothing)"
            )
        _check(train_loop_config, (dict,), "train_loop_config")
        _check(scaling_config, (ScalingConfig,), "scaling_config", "a train.ScalingConfig")
        _check(run_config, (RunConfig,), "run_config", "a train.RunConfig")
        _check(
            backend_config,
            (self._backend_config_cls,),
            self._backend_config_key,
            self._backend_config_cls.__name__,
        )
        _check(datasets, (Mapping,), "datasets", "a dict of name -> list, array or DataFrame")
        _check(metadata, (dict,), "metadata")
        _check(resume_from_checkpoint, (Checkpoint,), "resume_from_checkpoint", "a train.Checkpoint")
        if dataset_config is not None:
            raise ValueError(
                "dataset_config configures Ray Data; greenroom splits datasets= (lists, arrays, DataFrames) "
                "evenly across the workers: remove dataset_config"
            )
        self.train_loop_per_worker = train_loop_per_worker
        self.train_loop_config = train_loop_config
        self.backend_config = backend_config or self._backend_config_cls()
        self.scaling_config = scaling_config or ScalingConfig()
        if self.scaling_config.is_search_space:
            raise ValueError(
                f"scaling_config={self.scaling_config!r} holds a search space; a trainer runs one ScalingConfig "
                "(vary train_loop_config in Tuner's param_space instead)"
            )
        self.run_config = run_config or RunConfig()
        self.datasets = dict(datasets or {})
        self.metadata = metadata
        self.resume_from_checkpoint = resume_from_checkpoint

    def fit(self) -> Result:
        """Run training to the end and return its Result.

        Raises:
            TrainingFailedError: a worker raised or died and no retry was left; or ranks
                reported unequal numbers of times.
            ValueError: the ScalingConfig can never be placed on this node (at once).
        """
        if not ray.is_initialized():
            ray.init()
        return TrainRun(self).run()

    # -- Tuner(trainer) -------------------------------------------------------------------------
    def as_trainable(self) -> Any:
        """The Tune trainable that runs this trainer in a trial, with the trial's resources."""
        return self._as_tune_trainable(None)

    def _param_keys(self) -> tuple[str, ...]:
        return ("train_loop_config", "scaling_config", "datasets", "metadata", "resume_from_checkpoint",
                self._backend_config_key)  # fmt: skip

    def _as_tune_trainable(self, param_space: dict | None) -> Any:
        """For ``Tuner(trainer, param_space=...)``: a function trainable running one trainer per trial
        (the trial's config overrides the trainer's arguments), with the trial's resources."""
        space = param_space or {}
        unknown = sorted(set(space) - set(self._param_keys()))
        if unknown:
            raise ValueError(
                f"Tuner(trainer, param_space=...) has key(s) {unknown} that {type(self).__name__} does not take; "
                f"its keys are {list(self._param_keys())}: put hyperparameters under 'train_loop_config'"
            )
        scaling = space.get("scaling_config", self.scaling_config)
        if not isinstance(scaling, ScalingConfig) or scaling.is_search_space:
            raise ValueError(
                f"param_space['scaling_config']={scaling!r:.120}: every trial of a trainer must hold the same "
                "resources, so give one ScalingConfig (a search over it is not supported)"
            )
        base = self

        def trainable(config: dict) -> None:
            TrainRun(base._with_config(config), TRIAL).run()

        trainable.__name__ = type(self).__name__
        return with_resources(trainable, scaling.as_placement_group_factory())

    def _with_config(self, config: dict) -> DataParallelTrainer:
        """A copy with a trial's config applied (``train_loop_config`` merged into the trainer's)."""
        trainer = copy.copy(self)
        for key, value in config.items():
            if isinstance(value, Domain):
                raise ValueError(f"param_space[{key!r}] is still a search space: {value!r}")
            if key == "train_loop_config":
                value = {**(self.train_loop_config or {}), **(value or {})}
            elif key == self._backend_config_key:
                key = "backend_config"
            elif key == "datasets":
                value = dict(value or {})
            setattr(trainer, key, value)
        return trainer

    def __repr__(self) -> str:
        return f"<{type(self).__name__} scaling_config={self.scaling_config!r}>"


def _check(value: Any, types: tuple, name: str, what: str | None = None) -> None:
    if value is not None and not isinstance(value, types):
        raise TypeError(f"{name}={value!r:.100}: expected {what or ' or '.join(t.__name__ for t in types)}")
