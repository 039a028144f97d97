"""GPU models as Ray names them, and what a request for one asks of the node."""

from __future__ import annotations

import pytest

from greenroom.runtime.accelerators import accelerator_type_of
from greenroom.scheduler.resources import parse_resources


@pytest.mark.parametrize(
    "nvml_name, model",
    [
        ("Tesla V100-SXM2-16GB", "V100"),
        ("Tesla T4", "T4"),
        ("NVIDIA A100-SXM4-40GB", "A100"),
        ("NVIDIA A10G", "A10G"),
        ("NVIDIA H100 80GB HBM3", "H100"),
        ("NVIDIA H200", "H200"),
        ("NVIDIA L4", "L4"),
        ("NVIDIA RTX PRO 6000 Blackwell Server Edition", "RTX-PRO-6000"),
        ("NVIDIA GeForce RTX 5090", "GeForce-RTX-5090"),  # a mixed-case line: the name, hyphenated
        ("", None),
        (None, None),
    ],
)
def test_nvml_names_become_rays_model_names(nvml_name, model):
    assert accelerator_type_of(nvml_name) == model


def test_a_request_for_a_model_takes_a_sliver_of_its_resource():
    request = parse_resources(num_gpus=1, accelerator_type="H100")
    assert request.to_dict() == {"CPU": 1.0, "GPU": 1.0, "accelerator_type:H100": 0.001}
    for bad in ("", 100):
        with pytest.raises(TypeError, match="accelerator_type"):
            parse_resources(accelerator_type=bad)
