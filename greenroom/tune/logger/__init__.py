"""Logging trial results, at Ray's ``ray.tune.logger`` path.

Every run gets ``CSVLoggerCallback`` (``progress.csv``), ``JsonLoggerCallback``
(``result.json``, ``params.json``) and, where tensorboardX is installed,
``TBXLoggerCallback``, unless its callbacks already include one of each kind
or ``TUNE_DISABLE_AUTO_CALLBACK_LOGGERS=1`` is set.
"""

from greenroom.tune.logger.csv import CSVLogger, CSVLoggerCallback
from greenroom.tune.logger.json import JsonLogger, JsonLoggerCallback
from greenroom.tune.logger.logger import LegacyLoggerCallback, Logger, LoggerCallback, pretty_print
from greenroom.tune.logger.noop import NoopLogger
from greenroom.tune.logger.tensorboardx import TBXLogger, TBXLoggerCallback
from greenroom.tune.logger.unified import DEFAULT_LOGGERS, UnifiedLogger

__all__ = [
    "CSVLogger",
    "CSVLoggerCallback",
    "DEFAULT_LOGGERS",
    "JsonLogger",
    "JsonLoggerCallback",
    "LegacyLoggerCallback",
    "Logger",
    "LoggerCallback",
    "NoopLogger",
    "TBXLogger",
    "TBXLoggerCallback",
    "UnifiedLogger",
    "pretty_print",
]
