"""greenroom.train: Ray Train's API. A trainer's workers are greenroom actors in one placement group.

``from greenroom import train`` runs Ray Train programs unchanged: ``DataParallelTrainer``
(and ``greenroom.train.torch.TorchTrainer``), ``ScalingConfig``, ``train.report``,
``get_checkpoint``, ``get_context``, ``get_dataset_shard``. ``RunConfig``,
``CheckpointConfig``, ``FailureConfig`` and ``Checkpoint`` are ``tune``'s own objects,
as in Ray 2.7-2.40, and ``train.report`` inside a Tune function trainable reports to the
trial.
"""

from greenroom.train.backend import Backend, BackendConfig
from greenroom.train.base_trainer import TrainingFailedError
from greenroom.train.callback import UserCallback
from greenroom.train.config import ScalingConfig
from greenroom.train.context import TrainContext, get_checkpoint, get_context, get_dataset_shard, report
from greenroom.train.data_parallel_trainer import DataParallelTrainer
from greenroom.train.result import Result
from greenroom.tune.checkpoint import Checkpoint
from greenroom.tune.tuner import CheckpointConfig, FailureConfig, RunConfig

__all__ = [
    "Backend", "BackendConfig", "Checkpoint", "CheckpointConfig", "DataParallelTrainer", "FailureConfig",
    "Result", "RunConfig", "ScalingConfig", "TrainContext", "TrainingFailedError", "UserCallback",
    "get_checkpoint", "get_context", "get_dataset_shard", "report",
]  # fmt: skip
