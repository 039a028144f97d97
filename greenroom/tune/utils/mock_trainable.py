"""``MyTrainableClass``: the toy Trainable that Ray's Tune examples import from ``ray.tune.utils.mock_trainable``.

Its reward is a sigmoid of the step count, shaped by ``config["width"]``
(slope) and ``config["height"]`` (maximum); it checkpoints its step.
"""

from __future__ import annotations

import json
import math
import os

from greenroom.tune.trainable.trainable import Trainable


class MyTrainableClass(Trainable):
    """Example agent whose learning curve is a random sigmoid (Ray's example trainable)."""

    def setup(self, config: dict) -> None:
        self.timestep = 0

    def step(self) -> dict:
        self.timestep += 1
        value = math.tanh(float(self.timestep) / self.config.get("width", 1)) * self.config.get("height", 1)
        return {"episode_reward_mean": value}

    def save_checkpoint(self, checkpoint_dir: str) -> None:
        with open(os.path.join(checkpoint_dir, "checkpoint"), "w") as f:
            json.dump({"timestep": self.timestep}, f)

    def load_checkpoint(self, checkpoint_dir: str) -> None:
        with open(os.path.join(checkpoint_dir, "checkpoint")) as f:
            self.timestep = json.load(f)["timestep"]
