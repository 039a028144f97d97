"""Progress while an experiment runs: a live table on a terminal, one line per event otherwise.

``verbose=0`` prints nothing; 1 prints trial status changes; 2 and up also
results. Nothing here changes a trial's working directory.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import Any

from greenroom.tune.experiment.trial import Trial, lookup


class ProgressReporter:
    """Ray's name for the object ``tune.run(progress_reporter=...)`` takes."""

    def __init__(self, verbose: int = 3, metric: str | None = None, mode: str | None = None,
                 stream: Any = None, refresh_s: float = 1.0) -> None:  # fmt: skip
        self.verbose = verbose
        self.metric = metric
        self.mode = mode
        self.stream = stream or sys.stdout
        self.refresh_s = refresh_s
        self._last = 0.0
        self._live: Any = None
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def _best(self, trials: list[Trial]) -> str:
        if not self.metric or not self.mode:
            return ""
        scored = [(lookup(t.last_result, self.metric), t) for t in trials if lookup(t.last_result, self.metric) is not None]
        if not scored:
            return ""
        value, trial = (min if self.mode == "min" else max)(scored, key=lambda x: x[0])
        return f"best {self.metric}={value:.5g} ({trial})"

    def _table(self, trials: list[Trial]) -> Any:
        from rich.table import Table

        counts = Counter(t.status for t in trials)
        title = "  ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        table = Table(title=f"Trials: {title}   {self._best(trials)}", title_justify="left")
        params = sorted({k for t in trials for k in t.evaluated_params})[:6]
        for col in ["trial", "status", *params, "iter", *( [self.metric] if self.metric else [])]:
            table.add_column(col)
        for t in trials[-30:]:
            row = [str(t), t.status, *(f"{t.evaluated_params.get(p, '')!s:.10}" for p in params),
                   str(t.last_result.get("training_iteration", ""))]  # fmt: skip
            if self.metric:
                v = lookup(t.last_result, self.metric)
                row.append("" if v is None else f"{v:.5g}" if isinstance(v, (int, float)) else str(v))
            table.add_row(*row)
        return table

    def update(self, trials: list[Trial]) -> None:
        if self.verbose < 1 or not self._tty:
            return
        now = time.monotonic()
        if now - self._last < self.refresh_s:
            return
        self._last = now
        try:
            from rich.console import Console
            from rich.live import Live
        except ImportError:  # rich is a dependency; degrade to lines if it is gone
            self._tty = False
            return
        if self._live is None:
            self._live = Live(self._table(trials), console=Console(file=self.stream), auto_refresh=False)
            self._live.start()
        self._live.update(self._table(trials), refresh=True)

    def event(self, trial: Trial, what: str) -> None:
        if self.verbose < 1 or self._tty:
            return
        if what == "result":
            if self.verbose < 2:
                return
            it = trial.last_result.get("training_iteration")
            metric = f" {self.metric}={lookup(trial.last_result, self.metric)}" if self.metric else ""
            what = f"result iter={it}{metric}"
        print(f"[tune] {trial} {trial.status}: {what}", file=self.stream, flush=True)

    def message(self, text: str) -> None:
        if self.verbose >= 1:
            print(f"[tune] {text}", file=self.stream, flush=True)

    def done(self, trials: list[Trial]) -> None:
        if self._live is not None:
            self._live.update(self._table(trials), refresh=True)
            self._live.stop()
            self._live = None
        if self.verbose >= 1:
            counts = Counter(t.status for t in trials)
            summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
            print(f"[tune] done: {len(trials)} trials ({summary}). {self._best(trials)}", file=self.stream, flush=True)


CLIReporter = ProgressReporter
JupyterNotebookReporter = ProgressReporter


# Result keys every trial reports that say nothing about how it does: left out of the published table.
_BOOKKEEPING = {
    "training_iteration", "time_this_iter_s", "time_total_s", "timestamp", "time_since_restore",
    "timesteps_since_restore", "iterations_since_restore", "timesteps_total", "episodes_total", "pid",
    "hostname", "node_ip", "date", "experiment_id", "trial_id", "done", "config", "checkpoint_dir_name",
    "should_checkpoint", "experiment_tag",
}  # fmt: skip
PUBLISHED_TRIALS = 200  # the most trials a published table lists (the latest added)


def trial_table(name: str, trials: list[Trial], finished: bool) -> dict:
    """The run's trials as the dashboard shows them (JSON-ready): status, a few parameters, the
    iteration and the numeric metrics of each trial's last result."""
    rows = []
    for t in trials[-PUBLISHED_TRIALS:]:
        metrics = {k: v for k, v in t.last_result.items()
                   if k not in _BOOKKEEPING and isinstance(v, (int, float)) and not isinstance(v, bool)}  # fmt: skip
        rows.append({
            "trial_id": t.trial_id, "name": str(t), "status": t.status, "failures": t.num_failures,
            "iteration": t.last_result.get("training_iteration"),
            "config": {k: f"{v!s:.24}" for k, v in list(t.evaluated_params.items())[:6]},
            "metrics": dict(list(metrics.items())[:6]),
        })  # fmt: skip
    return {"name": name, "updated": time.time(), "finished": finished, "trials": rows}
