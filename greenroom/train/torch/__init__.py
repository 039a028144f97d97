"""greenroom.train.torch: Ray Train's PyTorch API (``TorchTrainer``, ``prepare_model``, ...).

Importing it needs no torch; building a TorchTrainer does
(``pip install 'greenroom[torch]'``).
"""

from greenroom.train.torch.torch_trainer import TorchConfig, TorchTrainer
from greenroom.train.torch.train_loop_utils import (
    enable_reproducibility,
    get_device,
    get_devices,
    prepare_data_loader,
    prepare_model,
)

__all__ = [
    "TorchConfig", "TorchTrainer", "enable_reproducibility", "get_device", "get_devices",
    "prepare_data_loader", "prepare_model",
]  # fmt: skip
