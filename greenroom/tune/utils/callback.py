"""The callbacks every run has: Ray's defaults, added to the user's unless already there."""

from __future__ import annotations

import logging

from greenroom import _config as config
from greenroom.tune.logger import (
    CSVLogger,
    CSVLoggerCallback,
    JsonLogger,
    JsonLoggerCallback,
    LegacyLoggerCallback,
    TBXLogger,
    TBXLoggerCallback,
)

logger = logging.getLogger(__name__)


def create_default_callbacks(callbacks: list | None) -> list:
    """``callbacks`` followed by the logger callbacks it lacks: CSV, JSON and, where
    tensorboardX is installed, TensorBoardX. None are added with
    ``TUNE_DISABLE_AUTO_CALLBACK_LOGGERS=1`` (then the trials' result files are not written)."""
    callbacks = list(callbacks or [])
    has = {CSVLoggerCallback: False, JsonLoggerCallback: False, TBXLoggerCallback: False}
    legacy = {CSVLogger: CSVLoggerCallback, JsonLogger: JsonLoggerCallback, TBXLogger: TBXLoggerCallback}
    for callback in callbacks:
        for kind in has:
            has[kind] = has[kind] or isinstance(callback, kind)
        if isinstance(callback, LegacyLoggerCallback):
            for cls in callback.logger_classes:
                if cls in legacy:
                    has[legacy[cls]] = True
    if not config.tune_auto_callback_loggers():
        return callbacks
    for kind, present in has.items():
        if present:
            continue
        try:
            callbacks.append(kind())
        except ImportError as e:  # tensorboardX is optional
            logger.debug("not adding %s: %s", kind.__name__, e)
    return callbacks
