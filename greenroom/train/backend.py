"""``Backend``/``BackendConfig``: what a framework sets up on a worker group, at Ray's path.

The coordinator calls ``on_start`` once every worker runs and before any loop
starts (TorchTrainer forms its process group here), and ``on_shutdown`` after
every loop returned, before the workers are killed. A failing ``on_start``
fails the attempt like a dead worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class Backend:
    """Set-up and tear-down around the training loops; the base class does nothing."""

    #: modules every worker needs, imported once in the node's zygote before the workers start
    preload: tuple[str, ...] = ()

    def on_start(self, worker_group: Any, backend_config: BackendConfig) -> None:
        pass

    def on_shutdown(self, worker_group: Any, backend_config: BackendConfig) -> None:
        pass


@dataclass
class BackendConfig:
    """A backend's settings; ``backend_cls`` is the Backend that uses them."""

    @property
    def backend_cls(self) -> type[Backend]:
        return Backend
