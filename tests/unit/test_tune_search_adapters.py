"""Optuna, HyperOpt and BayesOpt searchers driven synchronously by a test loop."""

from __future__ import annotations

import sys

import pytest

from greenroom.tune.search import (
    BayesOptSearch,
    ConcurrencyLimiter,
    HyperOptSearch,
    OptunaSearch,
    Searcher,
    SearchGenerator,
)
from greenroom.tune.search.sample import (
    choice,
    grid_search,
    lograndint,
    loguniform,
    qrandint,
    quniform,
    randint,
    randn,
    sample_from,
    uniform,
)

SPACE = {"x": uniform(-10, 10), "opt": {"y": uniform(-5, 5)}, "const": 7}


def quadratic(config: dict) -> float:
    return (config["x"] - 3) ** 2 + (config["opt"]["y"] + 1) ** 2


def run_search(searcher: Searcher, num_samples: int, space: dict = SPACE, mode: str = "min") -> list[float]:
    """Drive ``searcher`` one trial at a time; return every loss reported."""
    gen = SearchGenerator(searcher)
    gen.set_search_properties("loss", mode, space)
    gen.add_configurations(space, num_samples)
    losses = []
    while not gen.is_finished():
        trial = gen.next_trial()
        assert trial is not None
        assert trial.config["const"] == 7
        loss = quadratic(trial.config)
        gen.on_trial_result(trial.trial_id, {"loss": loss, "training_iteration": 1})
        gen.on_trial_complete(trial.trial_id, {"loss": loss, "training_iteration": 1})
        losses.append(loss)
    return losses


@pytest.mark.parametrize(
    "cls, module, package",
    [
        (OptunaSearch, "optuna", "optuna"),
        (HyperOptSearch, "hyperopt", "hyperopt"),
        (BayesOptSearch, "bayes_opt", "bayesian-optimization"),
    ],
)
def test_missing_library_import_error(monkeypatch, cls, module, package):
    """Without its library an adapter imports fine but construction says how to install it."""
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ImportError, match=rf"install {package}: pip install {package}"):
        cls()


# --- Optuna -------------------------------------------------------------------


@pytest.fixture
def optuna():
    module = pytest.importorskip("optuna")
    module.logging.set_verbosity(module.logging.WARNING)
    return module


def test_optuna_minimises_quadratic(optuna):
    """OptunaSearch gets near the optimum of a quadratic within 30 trials."""
    losses = run_search(OptunaSearch(seed=0), 30)
    assert len(losses) == 30
    assert min(losses) < 1.0


def test_optuna_maximises(optuna):
    """mode="max" makes Optuna maximise the metric."""
    space = {"x": uniform(0, 1), "opt": {"y": uniform(-1, 0)}, "const": 7}
    losses = run_search(OptunaSearch(seed=1), 25, space=space, mode="max")
    assert max(losses) > 9.3  # near the corner x=0, y=0 (loss 10); random averages about 7


def test_optuna_space_at_construction_and_points(optuna):
    """A space given to OptunaSearch converts every domain type; points run first."""
    space = {
        "a": choice(["p", "q"]),
        "b": qrandint(1, 10, 3),
        "c": lograndint(1, 100),
        "d": quniform(0, 1, 0.25),
        "e": loguniform(1e-3, 1),
        "f": randint(0, 3),
        "n": {"g": uniform(0, 1)},
    }
    point = {"a": "q", "b": 6, "c": 5, "d": 0.5, "e": 0.01, "f": 2, "n": {"g": 0.5}}
    searcher = OptunaSearch(space, metric="m", mode="min", points_to_evaluate=[point], seed=0)
    assert searcher.suggest("t0") == point
    for i in range(1, 20):
        config = searcher.suggest(f"t{i}")
        assert config["a"] in ("p", "q") and config["b"] in (3, 6, 9) and 1 <= config["c"] <= 99
        assert (
            config["d"] in (0, 0.25, 0.5, 0.75, 1) and 1e-3 <= config["e"] <= 1 and config["f"] in (0, 1, 2)
        )
        searcher.on_trial_complete(f"t{i}", {"m": config["n"]["g"]})
    gen = SearchGenerator(searcher)
    assert gen.set_search_properties("m", "min", {"const": 1}) is False


def test_optuna_failed_and_missing_metric(optuna):
    """Errored trials are told FAIL, trials without the metric PRUNED."""
    searcher = OptunaSearch({"x": uniform(0, 1)}, metric="m", mode="min", seed=0)
    for trial_id in ("a", "b", "c"):
        searcher.suggest(trial_id)
    searcher.on_trial_complete("a", error=True)
    searcher.on_trial_complete("b", {"other": 1})
    searcher.on_trial_complete("c", {"m": 0.3})
    searcher.on_trial_complete("unknown", {"m": 1})
    states = [t.state for t in searcher._study.trials]
    state = optuna.trial.TrialState
    assert states == [state.FAIL, state.PRUNED, state.COMPLETE]


def test_optuna_add_evaluated_point_and_rewards(optuna):
    """Known points are recorded as finished trials, not run."""
    searcher = OptunaSearch(
        {"x": uniform(0, 1)}, metric="m", mode="min", points_to_evaluate=[{"x": 0.2}], evaluated_rewards=[1.5]
    )
    searcher.add_evaluated_point({"x": 0.4}, 0.5)
    assert [t.value for t in searcher._study.trials] == [1.5, 0.5]
    with pytest.raises(ValueError, match="one reward per point"):
        OptunaSearch(points_to_evaluate=[{"x": 1}], evaluated_rewards=[1, 2])


def test_optuna_define_by_run(optuna):
    """A define-by-run function may suggest parameters and return constants."""

    def space(trial):
        trial.suggest_float("x", 0, 1)
        return {"tag": "run"}

    searcher = OptunaSearch(space, metric="m", mode="min", seed=0)
    config = searcher.suggest("t")
    assert 0 <= config["x"] <= 1 and config["tag"] == "run"


def test_optuna_save_restore(optuna, tmp_path):
    """OptunaSearch state round-trips through save/restore."""
    searcher = OptunaSearch({"x": uniform(0, 1)}, metric="m", mode="min", seed=0)
    for i in range(3):
        searcher.suggest(str(i))
        searcher.on_trial_complete(str(i), {"m": i})
    searcher.save(str(tmp_path / "optuna.pkl"))
    restored = OptunaSearch()
    restored.restore(str(tmp_path / "optuna.pkl"))
    assert len(restored._study.trials) == 3 and restored.metric == "m"
    assert 0 <= restored.suggest("new")["x"] <= 1


def test_optuna_unsupported_domains(optuna):
    """grid_search, randn and sample_from give errors that say what to use instead."""
    with pytest.raises(ValueError, match=r"cannot search grid_search parameters \('g'\).*tune.choice"):
        OptunaSearch({"g": grid_search([1, 2])})
    with pytest.raises(ValueError, match=r"cannot convert 'n'.*not randn"):
        OptunaSearch({"n": randn()})
    with pytest.raises(ValueError, match=r"cannot convert 's'"):
        OptunaSearch({"s": sample_from(lambda: 1)})


def test_optuna_grid_in_param_space_is_rejected(optuna):
    """grid_search in tune's param_space is rejected when Optuna takes the space."""
    gen = SearchGenerator(OptunaSearch())
    with pytest.raises(ValueError, match="grid_search"):
        gen.set_search_properties("m", "min", {"g": grid_search([1, 2])})


def test_optuna_needs_space_metric_mode(optuna):
    """suggest without a space, or without metric/mode, says what to pass."""
    with pytest.raises(RuntimeError, match="has no search space"):
        OptunaSearch().suggest("t")
    with pytest.raises(RuntimeError, match=r"metric=None, mode=None; pass both"):
        OptunaSearch({"x": uniform(0, 1)}).suggest("t")
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        OptunaSearch(mode="best")


def test_optuna_with_concurrency_limiter(optuna):
    """ConcurrencyLimiter(OptunaSearch) keeps to its limit through SearchGenerator."""
    gen = SearchGenerator(ConcurrencyLimiter(OptunaSearch(seed=0), max_concurrent=2))
    gen.set_search_properties("loss", "min", SPACE)
    gen.add_configurations(SPACE, 6)
    first, second = gen.next_trial(), gen.next_trial()
    assert second is not None and gen.next_trial() is None
    gen.on_trial_complete(first.trial_id, {"loss": quadratic(first.config)})
    assert gen.next_trial() is not None


# --- HyperOpt -----------------------------------------------------------------


def test_hyperopt_minimises_quadratic():
    """HyperOptSearch improves on random search for a quadratic."""
    pytest.importorskip("hyperopt")
    losses = run_search(HyperOptSearch(random_state_seed=0, n_initial_points=10), 30)
    assert len(losses) == 30 and min(losses) < 2.0


def test_hyperopt_domains_points_and_errors():
    """HyperOpt converts domains (ints stay ints), runs points first, records failures."""
    pytest.importorskip("hyperopt")
    space = {
        "a": choice(["p", "q"]),
        "b": qrandint(1, 10, 3),
        "c": lograndint(1, 100),
        "n": randn(0, 1),
        "f": randint(0, 3),
        "l": [randint(0, 3), 5],
    }
    point = {"a": "q", "b": 6, "c": 5, "n": 0.1, "f": 1, "l": [2, 5]}
    searcher = HyperOptSearch(space, metric="m", mode="max", points_to_evaluate=[point], random_state_seed=1)
    first = searcher.suggest("t0")
    assert first == {"a": "q", "b": 6, "c": 5, "n": 0.1, "f": 1, "l": {0: 2}}
    searcher.on_trial_complete("t0", error=True)
    for i in range(1, 8):
        config = searcher.suggest(f"t{i}")
        assert config["a"] in ("p", "q") and config["b"] in (3, 6, 9) and isinstance(config["c"], int)
        assert config["f"] in (0, 1, 2) and config["l"][0] in (0, 1, 2)
        searcher.on_trial_complete(f"t{i}", {"m": config["f"]})
    bad = HyperOptSearch(space, metric="m", mode="min", points_to_evaluate=[{"a": "p"}])
    with pytest.raises(ValueError, match=r"has no value for 'b'"):
        bad.suggest("x")
    with pytest.raises(ValueError, match=r"value 'zz' for 'a' is not one of \['p', 'q'\]"):
        HyperOptSearch(space, metric="m", mode="min", points_to_evaluate=[{**point, "a": "zz"}]).suggest("x")
    with pytest.raises(ValueError, match="grid_search"):
        HyperOptSearch({"g": grid_search([1])})


def test_hyperopt_save_restore(tmp_path):
    """HyperOptSearch state round-trips through save/restore."""
    pytest.importorskip("hyperopt")
    searcher = HyperOptSearch({"x": uniform(0, 1)}, metric="m", mode="min", random_state_seed=0)
    searcher.suggest("a")
    searcher.on_trial_complete("a", {"m": 1.0})
    searcher.save(str(tmp_path / "h.pkl"))
    restored = HyperOptSearch()
    restored.restore(str(tmp_path / "h.pkl"))
    assert 0 <= restored.suggest("b")["x"] <= 1


# --- BayesOpt -----------------------------------------------------------------


def test_bayesopt_seed_000_usage_and_quadratic():
    """Seed 000's BayesOptSearch(utility_kwargs=...) under ConcurrencyLimiter finds a good point."""
    pytest.importorskip("bayes_opt")
    algo = BayesOptSearch(utility_kwargs={"kind": "ucb", "kappa": 2.5, "xi": 0.0}, random_search_steps=4)
    algo = ConcurrencyLimiter(algo, max_concurrent=4)
    losses = run_search(algo, 12)
    assert len(losses) <= 12 and min(losses) < 5.0


def test_bayesopt_only_floats_and_clear_errors():
    """BayesOptSearch rejects non-float domains and unknown utility kinds."""
    pytest.importorskip("bayes_opt")
    with pytest.raises(ValueError, match=r"only bounded float parameters.*'n' is .*OptunaSearch"):
        BayesOptSearch({"n": randint(0, 3)})
    with pytest.raises(ValueError, match="only bounded float"):
        BayesOptSearch({"n": randn()})
    with pytest.raises(ValueError, match=r"kind must be 'ucb', 'ei' or 'poi', got 'xx'"):
        BayesOptSearch(utility_kwargs={"kind": "xx"})


def test_bayesopt_points_and_duplicates():
    """Points run first; a repeated config is skipped and too many repeats finish the search."""
    pytest.importorskip("bayes_opt")
    searcher = BayesOptSearch(
        {"x": uniform(0, 1)},
        metric="m",
        mode="max",
        points_to_evaluate=[{"x": 0.5}, {"x": 0.5}, {"x": 0.5}],
        patience=2,
    )
    assert searcher.suggest("a") == {"x": 0.5}
    assert searcher.suggest("b") is None  # duplicate skipped
    assert searcher.suggest("c") == Searcher.FINISHED
