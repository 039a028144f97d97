"""A function trainable run as a Trainable: the function runs in a thread,
and each ``tune.report()`` is one ``step()``.

``report()`` blocks until the runner asks for the next step, so a scheduler's
decision (stop, pause) lands before the function computes another iteration.
"""

from __future__ import annotations

import contextvars
import inspect
import queue
import sys
import threading
import traceback
from typing import Any, Callable

from greenroom.tune.trainable.session import TrialSession
from greenroom.tune.trainable.trainable import Trainable

_DONE = "done"
_RESULT = "result"
_ERROR = "error"


class FunctionError(Exception):
    """The trainable function raised; carries its traceback text."""

    def __init__(self, cause: BaseException, text: str) -> None:
        super().__init__(text)
        self.cause = cause
        self.text = text


class FunctionTrainable(Trainable):
    def __init__(self, fn: Callable, config: dict, session: TrialSession) -> None:
        self._fn = fn
        self._session = session
        self._results: queue.Queue = queue.Queue()
        self._go = threading.Semaphore(0)
        self._thread: threading.Thread | None = None
        self._finished = False
        session.sink = self._on_report
        super().__init__(config, _trial_info=session.info)

    def _on_report(self, metrics: dict, checkpoint: Any) -> None:
        self._results.put((_RESULT, metrics, checkpoint))
        self._go.acquire()  # wait until the runner wants the next iteration

    def _run(self) -> None:
        try:
            if len(inspect.signature(self._fn).parameters) == 0:
                out = self._fn()
            else:
                out = self._fn(self.config)
            if isinstance(out, dict):  # Ray: a returned dict is the final result
                self._results.put((_RESULT, out, None))
                self._go.acquire()
            self._results.put((_DONE, None, None))
        except BaseException as e:  # noqa: BLE001 - reported to the runner as the trial's error
            text = "".join(traceback.format_exception(type(e), e, e.__traceback__))
            self._results.put((_ERROR, FunctionError(e, text), None))

    def step(self) -> dict:
        if self._thread is None:
            # The thread sees the trial's context (GPU ids, resources) like the actor's own thread.
            context = contextvars.copy_context()
            self._thread = threading.Thread(target=context.run, args=(self._run,), name="trainable", daemon=True)
            self._thread.start()
        else:
            self._go.release()
        kind, value, checkpoint = self._results.get()
        if kind == _ERROR:
            raise value
        if kind == _DONE:
            self._finished = True
            return {"done": True, "__no_result__": True}
        result = dict(value)
        if checkpoint is not None:
            result["__checkpoint__"] = checkpoint.path
        return result

    def stop(self) -> None:
        sys.stdout.flush()
