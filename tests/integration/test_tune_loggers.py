"""tune.logger: the logger callbacks write each trial's progress.csv, result.json and params.json
(read back here with pandas and json); Ray's defaults are added unless present; custom
LoggerCallbacks and per-trial Loggers see every trial's life; TensorBoardX only when installed.
"""

from __future__ import annotations

import importlib.util

import json
import sys
import types
from pathlib import Path

import pandas as pd
import pytest

import greenroom
from greenroom import tune
from greenroom.tune.logger import (
    CSVLoggerCallback,
    JsonLoggerCallback,
    LegacyLoggerCallback,
    Logger,
    LoggerCallback,
    TBXLoggerCallback,
    pretty_print,
)
from greenroom.tune.utils.callback import create_default_callbacks


@pytest.fixture(autouse=True)
def started():
    greenroom.init(num_cpus=2)
    yield
    greenroom.shutdown()


def three_reports(config):
    for i in range(3):
        tune.report({"loss": config["lr"] * (3 - i), "nested": {"acc": i / 10}})


def run(tmp_path, **kwargs):
    return tune.run(three_reports, config={"lr": tune.grid_search([0.1, 0.2])}, storage_path=str(tmp_path),
                    verbose=0, **kwargs)  # fmt: skip


def test_default_loggers_write_rays_files(tmp_path):
    """progress.csv (flat, no config), result.json (one line per result) and params.json, per trial."""
    analysis = run(tmp_path)
    for trial in analysis.trials:
        progress = pd.read_csv(Path(trial.path, "progress.csv"))
        assert list(progress["loss"]) == pytest.approx([trial.config["lr"] * k for k in (3, 2, 1)])
        assert list(progress["nested/acc"]) == [0.0, 0.1, 0.2]
        assert list(progress["training_iteration"]) == [1, 2, 3]
        assert not any(c.startswith("config") for c in progress.columns)
        lines = [json.loads(line) for line in Path(trial.path, "result.json").read_text().splitlines()]
        assert [r["nested"]["acc"] for r in lines] == [0.0, 0.1, 0.2] and lines[0]["config"] == trial.config
        assert json.loads(Path(trial.path, "params.json").read_text()) == trial.config
        assert Path(trial.path, "params.pkl").exists()
    assert len(analysis.trial_dataframes) == 2


class Recorder(LoggerCallback):
    """Records the log_trial_* calls it gets, in order."""

    def __init__(self):
        self.calls = []

    def log_trial_start(self, trial):
        self.calls.append(("start", trial.config["lr"]))

    def log_trial_result(self, iteration, trial, result):
        self.calls.append(("result", trial.config["lr"], result["training_iteration"]))

    def log_trial_end(self, trial, failed=False):
        self.calls.append(("end", trial.config["lr"], failed))


def test_a_custom_logger_callback_sees_each_trials_life(tmp_path):
    """A LoggerCallback gets start, each result and end of every trial; the default files are written too."""
    recorder = Recorder()
    analysis = run(tmp_path, callbacks=[recorder])
    for lr in (0.1, 0.2):
        mine = [c for c in recorder.calls if c[1] == lr]
        assert mine == [
            ("start", lr),
            ("result", lr, 1),
            ("result", lr, 2),
            ("result", lr, 3),
            ("end", lr, False),
        ]
    assert all(Path(t.path, "progress.csv").exists() for t in analysis.trials)


def test_defaults_are_added_once_and_can_be_turned_off(tmp_path, monkeypatch):
    """A user's CSV logger replaces the default one; TUNE_DISABLE_AUTO_CALLBACK_LOGGERS=1 adds none."""
    mine = CSVLoggerCallback()
    callbacks = create_default_callbacks([mine])
    with_tbx = [TBXLoggerCallback] if importlib.util.find_spec("tensorboardX") else []  # added when installed
    assert [type(c) for c in callbacks] == [CSVLoggerCallback, JsonLoggerCallback, *with_tbx] and callbacks[0] is mine
    monkeypatch.setenv("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    assert create_default_callbacks(None) == []
    analysis = run(tmp_path)
    trial = analysis.trials[0]
    assert not Path(trial.path, "progress.csv").exists() and not Path(trial.path, "result.json").exists()
    assert len(trial.results) == 3  # the run itself is unchanged


class CountingLogger(Logger):
    """A per-trial Logger (Ray's older API) counting its results into its trial directory."""

    def _init(self):
        self.n = 0

    def on_result(self, result):
        self.n += 1

    def close(self):
        Path(self.logdir, "counted.txt").write_text(str(self.n))


def test_per_trial_loggers_through_legacy_logger_callback(tmp_path):
    """LegacyLoggerCallback runs one Logger per trial and closes it when the trial ends."""
    analysis = run(tmp_path, callbacks=[LegacyLoggerCallback([CountingLogger])])
    assert [Path(t.path, "counted.txt").read_text() for t in analysis.trials] == ["3", "3"]


def test_tbx_logger_callback_without_tensorboardx_says_what_to_install(monkeypatch):
    """Without tensorboardX, TBXLoggerCallback() raises ImportError naming it; the defaults leave it out."""
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match="pip install tensorboardX"):
        TBXLoggerCallback()
    assert not any(isinstance(c, TBXLoggerCallback) for c in create_default_callbacks(None))


class FakeSummaryWriter:
    """tensorboardX.SummaryWriter's calls, recorded (tensorboardX is not a greenroom dependency)."""

    writers: list = []

    def __init__(self, logdir, flush_secs=30):
        self.logdir, self.scalars, self.closed = logdir, [], False
        FakeSummaryWriter.writers.append(self)

    def add_scalar(self, tag, value, global_step=None):
        self.scalars.append((tag, value, global_step))

    def add_histogram(self, tag, value, global_step=None):
        self.scalars.append((tag, list(value), global_step))

    def flush(self):
        pass

    def close(self):
        self.closed = True


def test_tbx_logger_callback_writes_scalars_where_tensorboardx_is_installed(tmp_path, monkeypatch):
    """With tensorboardX present it is a default logger: scalars under ray/tune/, stepped by iteration."""
    fake = types.ModuleType("tensorboardX")
    fake.SummaryWriter = FakeSummaryWriter
    monkeypatch.setitem(sys.modules, "tensorboardX", fake)
    FakeSummaryWriter.writers = []
    analysis = run(tmp_path)
    assert len(FakeSummaryWriter.writers) == 2 and all(w.closed for w in FakeSummaryWriter.writers)
    writer = next(w for w in FakeSummaryWriter.writers if w.logdir == analysis.trials[0].path)
    losses = [(value, step) for tag, value, step in writer.scalars if tag == "ray/tune/loss"]
    assert losses == [(pytest.approx(0.3), 1), (pytest.approx(0.2), 2), (pytest.approx(0.1), 3)]
    assert ("ray/tune/nested/acc", 0.2, 3) in writer.scalars


def test_pretty_print_drops_config():
    """pretty_print shows a result as YAML without its config."""
    text = pretty_print({"loss": 0.5, "config": {"lr": 1}, "nested": {"a": 1}})
    assert "loss: 0.5" in text and "lr" not in text and "a: 1" in text
