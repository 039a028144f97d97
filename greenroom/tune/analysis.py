"""Reading an experiment back: ``ExperimentAnalysis`` (tune.run) and ``ResultGrid`` (Tuner.fit)."""

from __future__ import annotations

import math
import os
from typing import Any

from greenroom.tune.checkpoint import Checkpoint
from greenroom.tune.experiment.trial import ERROR, TERMINATED, Trial, lookup
from greenroom.tune.error import TuneError
from greenroom.tune.storage import STATE_FILE, flatten, load_error, load_state, read_results, trial_from_state

_SCOPES = ("all", "last", "avg", "last-5-avg", "last-10-avg")


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as e:  # pragma: no cover - pandas ships with the tune extra
        raise ImportError("dataframes need pandas: pip install 'greenroom[tune]' (or pip install pandas)") from e
    return pandas


def _check_mode(mode: str | None) -> None:
    if mode not in ("min", "max"):
        raise ValueError(f"mode={mode!r}: expected 'min' or 'max'")


class ExperimentAnalysis:
    """An experiment's trials and results, from a finished run or its directory on disk."""

    def __init__(
        self,
        experiment_checkpoint_path: str | os.PathLike,
        *,
        trials: list[Trial] | None = None,
        default_metric: str | None = None,
        default_mode: str | None = None,
        **_: Any,
    ) -> None:
        path = os.path.expanduser(os.fspath(experiment_checkpoint_path))
        if os.path.basename(path) == STATE_FILE:
            path = os.path.dirname(path)
        self.experiment_path = path
        if trials is None:
            trials = [trial_from_state(d) for d in load_state(path)["trials"]]
        self.trials = trials
        if default_mode is not None:
            _check_mode(default_mode)
        self.default_metric = default_metric
        self.default_mode = default_mode
        self._results: dict[str, list[dict]] = {}

    # -- results per trial ------------------------------------------------------------------
    def _all_results(self, trial: Trial) -> list[dict]:
        if trial.trial_id not in self._results:
            self._results[trial.trial_id] = trial.results or (read_results(trial.path) if trial.path else [])
        return self._results[trial.trial_id]

    def _metric_mode(self, metric: str | None, mode: str | None) -> tuple[str, str]:
        metric = metric or self.default_metric
        mode = mode or self.default_mode
        if not metric or not mode:
            raise ValueError(
                "no metric/mode: pass metric= and mode= here, or to tune.run(metric=..., mode=...)"
            )
        _check_mode(mode)
        return metric, mode

    def _score(self, trial: Trial, metric: str, scope: str) -> float | None:
        if scope not in _SCOPES:
            raise ValueError(f"scope={scope!r}: expected one of {_SCOPES}")
        values = [lookup(r, metric) for r in self._all_results(trial)]
        values = [v for v in values if isinstance(v, (int, float))]
        if not values:
            v = lookup(trial.last_result, metric)
            values = [v] if isinstance(v, (int, float)) else []
        if not values:
            return None
        if scope == "last":
            return values[-1]
        if scope == "avg":
            return sum(values) / len(values)
        if scope.startswith("last-"):
            n = int(scope.split("-")[1])
            tail = values[-n:]
            return sum(tail) / len(tail)
        return values  # "all": handled by the caller

    def get_best_trial(self, metric: str | None = None, mode: str | None = None, scope: str = "last",
                       filter_nan_and_inf: bool = True) -> Trial | None:  # fmt: skip
        """The trial with the best ``metric`` (``scope``: last, avg, last-5-avg, last-10-avg, all)."""
        metric, mode = self._metric_mode(metric, mode)
        best, best_value = None, None
        for trial in self.trials:
            score = self._score(trial, metric, scope)
            if score is None:
                continue
            candidates = score if isinstance(score, list) else [score]
            for value in candidates:
                if filter_nan_and_inf and not math.isfinite(value):
                    continue
                if best_value is None or (value < best_value if mode == "min" else value > best_value):
                    best, best_value = trial, value
        return best

    def get_best_config(self, metric: str | None = None, mode: str | None = None, scope: str = "last") -> dict | None:
        trial = self.get_best_trial(metric, mode, scope)
        return trial.config if trial else None

    def get_best_checkpoint(self, trial: Trial, metric: str | None = None, mode: str | None = None) -> Checkpoint | None:
        return trial.checkpoint

    def get_last_checkpoint(self, trial: Trial | None = None, metric: str | None = None, mode: str | None = None) -> Checkpoint | None:
        trial = trial or self.get_best_trial(metric, mode)
        return trial.checkpoint if trial else None

    @property
    def best_trial(self) -> Trial | None:
        return self.get_best_trial()

    @property
    def best_config(self) -> dict | None:
        return self.get_best_config()

    @property
    def best_result(self) -> dict | None:
        trial = self.best_trial
        return trial.last_result if trial else None

    @property
    def best_checkpoint(self) -> Checkpoint | None:
        trial = self.best_trial
        return trial.checkpoint if trial else None

    @property
    def best_logdir(self) -> str | None:
        trial = self.best_trial
        return trial.path if trial else None

    @property
    def best_result_df(self) -> Any:
        pd = _pandas()
        result = self.best_result
        return pd.DataFrame([flatten(result)]) if result else pd.DataFrame()

    @property
    def results(self) -> dict[str, dict]:
        return {t.trial_id: t.last_result for t in self.trials}

    @property
    def results_df(self) -> Any:
        pd = _pandas()
        rows = [flatten({**t.last_result, "trial_id": t.trial_id}) for t in self.trials if t.last_result]
        return pd.DataFrame(rows).set_index("trial_id") if rows else pd.DataFrame()

    @property
    def trial_dataframes(self) -> dict[str, Any]:
        pd = _pandas()
        return {t.path: pd.DataFrame([flatten(r) for r in self._all_results(t)]) for t in self.trials}

    def dataframe(self, metric: str | None = None, mode: str | None = None) -> Any:
        """One row per trial: its last result, or its best by ``metric``/``mode``."""
        pd = _pandas()
        if mode is not None:
            _check_mode(mode)
        rows = []
        for t in self.trials:
            results = self._all_results(t) or ([t.last_result] if t.last_result else [])
            if not results:
                continue
            row = results[-1]
            if metric and mode:
                scored = [r for r in results if isinstance(lookup(r, metric), (int, float))]
                if scored:
                    pick = min if mode == "min" else max
                    row = pick(scored, key=lambda r: lookup(r, metric))
            flat = flatten(row)
            flat.update({f"config/{k}": v for k, v in flatten(t.config).items()})
            flat["logdir"] = t.path
            flat["trial_id"] = t.trial_id
            rows.append(flat)
        return pd.DataFrame(rows)

    def stats(self) -> dict:
        return {"num_trials": len(self.trials)}


def _error(trial: Trial) -> BaseException | None:
    """An errored trial's exception as the trial raised it (``error.pkl``), else a TuneError with its text."""
    if trial.status != ERROR:
        return None
    return load_error(trial.path) or TuneError(trial.error or f"trial {trial} failed")


class Result:
    """One trial's outcome in a ResultGrid."""

    def __init__(self, trial: Trial, analysis: ExperimentAnalysis) -> None:
        self._trial = trial
        self._analysis = analysis
        self.metrics = trial.last_result
        self.config = trial.config
        self.checkpoint = trial.checkpoint
        self.path = trial.path
        self.error = _error(trial)

    @property
    def metrics_dataframe(self) -> Any:
        pd = _pandas()
        return pd.DataFrame([flatten(r) for r in self._analysis._all_results(self._trial)])

    @property
    def best_checkpoints(self) -> list[tuple[Checkpoint, dict]]:
        return [(self.checkpoint, self.metrics)] if self.checkpoint else []

    def __repr__(self) -> str:
        return f"Result(metrics={self.metrics!r:.200}, path={self.path!r}, error={self.error!r})"


class ResultGrid:
    """What ``Tuner.fit()`` returns: one Result per trial."""

    def __init__(self, analysis: ExperimentAnalysis) -> None:
        self._analysis = analysis
        self._results = [Result(t, analysis) for t in analysis.trials]

    @property
    def experiment_path(self) -> str:
        return self._analysis.experiment_path

    def __len__(self) -> int:
        return len(self._results)

    def __getitem__(self, i: int) -> Result:
        return self._results[i]

    def __iter__(self):
        return iter(self._results)

    def get_best_result(self, metric: str | None = None, mode: str | None = None, scope: str = "last",
                        filter_nan_and_inf: bool = True) -> Result:  # fmt: skip
        trial = self._analysis.get_best_trial(metric, mode, scope, filter_nan_and_inf)
        if trial is None:
            raise RuntimeError(f"no trial reported metric {metric or self._analysis.default_metric!r}")
        return next(r for r in self._results if r._trial is trial)

    def get_dataframe(self, filter_metric: str | None = None, filter_mode: str | None = None) -> Any:
        return self._analysis.dataframe(filter_metric, filter_mode)

    @property
    def errors(self) -> list[BaseException]:
        return [r.error for r in self._results if r.error is not None]

    @property
    def num_errors(self) -> int:
        return len(self.errors)

    @property
    def num_terminated(self) -> int:
        return sum(1 for r in self._results if r._trial.status == TERMINATED)
