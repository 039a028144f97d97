"""Ray's ``ray.util.accelerators``: GPU model names for ``accelerator_type=``.

``@remote(num_gpus=1, accelerator_type=NVIDIA_H100)`` runs only on a node whose GPUs
are H100s: greenroom's node says which model its GPUs are (NVML's name of the first
one it sees) as the resource ``accelerator_type:H100``, as Ray's nodes do.
"""

from greenroom.scheduler.resources import ACCELERATOR_TYPE_PREFIX, ACCELERATOR_TYPE_SLIVER

NVIDIA_TESLA_V100 = "V100"
NVIDIA_TESLA_P100 = "P100"
NVIDIA_TESLA_T4 = "T4"
NVIDIA_TESLA_P4 = "P4"
NVIDIA_TESLA_K80 = "K80"
NVIDIA_TESLA_A10G = "A10G"
NVIDIA_L4 = "L4"
NVIDIA_L40S = "L40S"
NVIDIA_A100 = "A100"
NVIDIA_H100 = "H100"
NVIDIA_H200 = "H200"
NVIDIA_H20 = "H20"
NVIDIA_B200 = "B200"
NVIDIA_RTX_PRO_6000 = "RTX-PRO-6000"

__all__ = [
    "ACCELERATOR_TYPE_PREFIX",
    "ACCELERATOR_TYPE_SLIVER",
    "NVIDIA_A100",
    "NVIDIA_B200",
    "NVIDIA_H20",
    "NVIDIA_H100",
    "NVIDIA_H200",
    "NVIDIA_L4",
    "NVIDIA_L40S",
    "NVIDIA_RTX_PRO_6000",
    "NVIDIA_TESLA_A10G",
    "NVIDIA_TESLA_K80",
    "NVIDIA_TESLA_P4",
    "NVIDIA_TESLA_P100",
    "NVIDIA_TESLA_T4",
    "NVIDIA_TESLA_V100",
]  # fmt: skip
