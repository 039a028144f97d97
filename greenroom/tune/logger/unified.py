"""``UnifiedLogger``: one per-trial ``Logger`` that writes through several (JSON, CSV, TensorBoardX)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from greenroom.tune.logger.csv import CSVLogger
from greenroom.tune.logger.json import JsonLogger
from greenroom.tune.logger.logger import Logger
from greenroom.tune.logger.tensorboardx import TBXLogger

logger = logging.getLogger(__name__)

DEFAULT_LOGGERS = (JsonLogger, CSVLogger, TBXLogger)


class UnifiedLogger(Logger):
    """Runs ``loggers`` (default: JSON, CSV and, where tensorboardX is installed, TensorBoardX).

    Args:
        config, logdir, trial: as ``Logger``.
        loggers: ``Logger`` classes to run; one that cannot start (a missing package) is skipped.
    """

    def __init__(self, config: dict, logdir: str, trial: Any = None,
                 loggers: Iterable[type[Logger]] | None = None) -> None:  # fmt: skip
        self._logger_classes = list(DEFAULT_LOGGERS if loggers is None else loggers)
        super().__init__(config, logdir, trial)

    def _init(self) -> None:
        self._loggers: list[Logger] = []
        for cls in self._logger_classes:
            try:
                self._loggers.append(cls(self.config, self.logdir, self.trial))
            except ImportError as e:
                logger.info("UnifiedLogger leaves out %s: %s", cls.__name__, e)

    def on_result(self, result: dict) -> None:
        for child in self._loggers:
            child.on_result(result)

    def update_config(self, config: dict) -> None:
        for child in self._loggers:
            child.update_config(config)

    def flush(self) -> None:
        for child in self._loggers:
            child.flush()

    def close(self) -> None:
        for child in self._loggers:
            child.close()
