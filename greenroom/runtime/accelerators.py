"""GPU models as Ray names them: the node resource ``accelerator_type:<model>``."""

from __future__ import annotations

import re

_VENDOR = re.compile(r"^NVIDIA\s+")


def accelerator_type_of(gpu_name: str | None) -> str | None:
    """Ray's model name for an NVML device name: its first model token with a digit, after any
    all-capital words before it ("Tesla V100-SXM2-16GB" -> "V100", "NVIDIA H100 80GB HBM3" ->
    "H100", "NVIDIA RTX PRO 6000 ..." -> "RTX-PRO-6000"); else the name without "NVIDIA",
    hyphenated ("NVIDIA GeForce RTX 5090" -> "GeForce-RTX-5090")."""
    if not gpu_name or not gpu_name.strip():
        return None
    words = gpu_name.split()
    model: list[str] = []
    for word in words[1:]:  # the first word is the vendor or the line ("NVIDIA", "Tesla")
        head = word.split("-")[0]
        if not head.isalnum() or not (head.isupper() or head.isdigit()):
            break
        model.append(head)
        if any(c.isdigit() for c in head):
            return "-".join(model)
        if head != word:  # "ABC-..." with no digit yet: not a model token
            break
    return _VENDOR.sub("", gpu_name.strip()).replace(" ", "-") or None
