"""``NoopLogger``: a per-trial logger that logs nothing."""

from __future__ import annotations

from greenroom.tune.logger.logger import Logger


class NoopLogger(Logger):
    """Drops every result."""

    def on_result(self, result: dict) -> None:
        pass
