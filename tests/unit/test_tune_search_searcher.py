"""Searcher, SearchGenerator and ConcurrencyLimiter driven synchronously."""

from __future__ import annotations

import random

import pytest

from greenroom.tune import search
from greenroom.tune.search import (
    BasicVariantGenerator,
    ConcurrencyLimiter,
    SearchAlgorithm,
    Searcher,
    SearchGenerator,
    create_searcher,
)
from greenroom.tune.search.sample import grid_search, uniform


class ListSearcher(Searcher):
    """Suggests given configs in order, then FINISHED; records every call."""

    def __init__(self, configs, metric=None, mode=None, accept_space=False):
        super().__init__(metric=metric, mode=mode)
        self.configs = list(configs)
        self.accept_space = accept_space
        self.suggested: list[str] = []
        self.results: list[tuple[str, dict]] = []
        self.completed: list[tuple[str, dict | None, bool]] = []
        self.space = None

    def set_search_properties(self, metric, mode, config, **spec):
        if not self.accept_space:
            return False
        self._metric, self._mode, self.space = metric, mode, config
        return True

    def suggest(self, trial_id):
        self.suggested.append(trial_id)
        return self.configs.pop(0) if self.configs else Searcher.FINISHED

    def on_trial_result(self, trial_id, result):
        self.results.append((trial_id, result))

    def on_trial_complete(self, trial_id, result=None, error=False):
        self.completed.append((trial_id, result, error))


class RandomSearcher(Searcher):
    """Suggests uniform x in [0, 1) forever."""

    def __init__(self):
        super().__init__(metric="m", mode="min")
        self.rng = random.Random(0)
        self.completed = 0

    def suggest(self, trial_id):
        return {"x": self.rng.random()}

    def on_trial_complete(self, trial_id, result=None, error=False):
        self.completed += 1


def test_searcher_defaults_and_mode_validation():
    """Searcher keeps metric/mode, declines the space by default and rejects bad modes."""
    s = Searcher(metric="loss", mode="min")
    assert (s.metric, s.mode, Searcher.FINISHED) == ("loss", "min", "FINISHED")
    assert s.set_search_properties("loss", "min", {}) is False
    assert s.set_max_concurrency(3) is False
    with pytest.raises(ValueError, match=r"mode must be 'min' or 'max', got mode='minimize'"):
        Searcher(metric="loss", mode="minimize")
    with pytest.raises(NotImplementedError, match="implement suggest"):
        s.suggest("t")


def test_custom_searcher_through_search_generator():
    """SearchGenerator asks suggest with fresh trial ids, merges constants and forwards events."""
    searcher = ListSearcher([{"x": 1}, {"x": 2}], metric="m", mode="max")
    gen = SearchGenerator(searcher)
    assert isinstance(gen, SearchAlgorithm)
    assert gen.set_search_properties("m", "max", {"c": 5}) is False
    gen.add_configurations({"c": 5, "nested": {"k": "v"}}, num_samples=5)
    first = gen.next_trial()
    assert first.trial_id == searcher.suggested[0]
    assert len(first.trial_id) == 8 and all(c in "0123456789abcdef" for c in first.trial_id)
    assert first.config == {"c": 5, "nested": {"k": "v"}, "x": 1}
    assert first.evaluated_params == {"x": 1}
    assert first.experiment_tag == "1_c=5,k=v,x=1"
    gen.on_trial_result(first.trial_id, {"m": 0.5})
    gen.on_trial_complete(first.trial_id, {"m": 0.7})
    assert searcher.results == [(first.trial_id, {"m": 0.5})]
    assert searcher.completed == [(first.trial_id, {"m": 0.7}, False)]
    second = gen.next_trial()
    gen.on_trial_complete(second.trial_id, error=True)
    assert searcher.completed[-1] == (second.trial_id, None, True)
    assert not gen.is_finished()
    assert gen.next_trial() is None and gen.is_finished()  # FINISHED ends the search early
    assert len(set(searcher.suggested)) == 3
    assert gen.next_trial() is None and len(searcher.suggested) == 3


def test_search_generator_stops_at_num_samples():
    """suggest is asked only until num_samples trials exist."""
    searcher = RandomSearcher()
    gen = SearchGenerator(searcher)
    gen.set_search_properties("m", "min", {})
    gen.add_configurations({}, num_samples=3)
    trials = [gen.next_trial() for _ in range(3)]
    assert all(t is not None for t in trials) and gen.is_finished()
    assert gen.next_trial() is None and gen.total_samples == 3


def test_search_generator_set_finished():
    """set_finished stops a SearchGenerator before num_samples."""
    gen = SearchGenerator(RandomSearcher())
    gen.add_configurations({}, num_samples=5)
    gen.next_trial()
    gen.set_finished()
    assert gen.is_finished() and gen.next_trial() is None


def test_search_generator_none_means_wait():
    """A None suggestion yields no trial and does not count toward num_samples."""
    searcher = ConcurrencyLimiter(RandomSearcher(), max_concurrent=1)
    gen = SearchGenerator(searcher)
    gen.add_configurations({}, num_samples=2)
    first = gen.next_trial()
    assert gen.next_trial() is None and not gen.is_finished()
    gen.on_trial_complete(first.trial_id, {"m": 1})
    assert gen.next_trial() is not None and gen.is_finished()


def test_search_generator_rejects_grid_search():
    """grid_search in the param_space of a searcher that does not take the space is a clear error."""
    gen = SearchGenerator(ListSearcher([{"x": 1}]))
    gen.set_search_properties("m", "min", {"g": grid_search([1, 2])})
    with pytest.raises(
        ValueError, match=r"grid_search at 'g', which ListSearcher does not support.*tune.choice"
    ):
        gen.add_configurations({"g": grid_search([1, 2])})


def test_search_generator_rejects_domains_searcher_declined():
    """Domains in the param_space of a searcher that keeps its own space are an error (as Ray)."""
    gen = SearchGenerator(ListSearcher([{"x": 1}]))
    with pytest.raises(ValueError, match=r"search domains at 'x'.*set_search_properties\(\) returned False"):
        gen.add_configurations({"x": uniform(0, 1)})


def test_search_generator_searcher_taking_space():
    """A searcher that accepts the space gets it, and must fill every domain in its suggestions."""
    searcher = ListSearcher([{"x": 0.5}, {"y": 1}], accept_space=True)
    gen = SearchGenerator(searcher)
    assert gen.set_search_properties("m", "min", {"x": uniform(0, 1)}) is True
    gen.add_configurations({"x": uniform(0, 1), "c": 1}, num_samples=2)
    assert searcher.metric == "m" and set(searcher.space) == {"x"}
    assert gen.next_trial().config == {"x": 0.5, "c": 1}
    with pytest.raises(ValueError, match=r"gave no value for 'x'.*return every parameter"):
        gen.next_trial()


def test_search_generator_argument_errors():
    """SearchGenerator rejects non-Searchers, bad suggestions and a second experiment."""
    with pytest.raises(TypeError, match="needs a greenroom.tune.search.Searcher"):
        SearchGenerator(object())
    gen = SearchGenerator(ListSearcher([["not", "a", "dict"]]))
    with pytest.raises(RuntimeError, match="add_configurations"):
        gen.next_trial()
    gen.add_configurations({}, num_samples=2)
    with pytest.raises(TypeError, match=r"returned \['not', 'a', 'dict'\]; return a dict"):
        gen.next_trial()
    with pytest.raises(RuntimeError, match="one experiment"):
        gen.add_configurations({})


def test_concurrency_limiter_never_exceeds_limit():
    """Driven in random order, ConcurrencyLimiter never has more than max_concurrent live trials."""
    inner = RandomSearcher()
    gen = SearchGenerator(ConcurrencyLimiter(inner, max_concurrent=3))
    gen.add_configurations({}, num_samples=40)
    rng = random.Random(1)
    live: list[str] = []
    created = 0
    while not gen.is_finished() or live:
        trial = gen.next_trial()
        if trial is not None:
            live.append(trial.trial_id)
            created += 1
        assert len(live) <= 3
        if live and (trial is None or rng.random() < 0.4):
            done = live.pop(rng.randrange(len(live)))
            gen.on_trial_complete(done, {"m": 1.0}, error=rng.random() < 0.2)
    assert created == 40 and inner.completed == 40


def test_concurrency_limiter_batch_holds_completions():
    """batch=True tells the searcher only after the whole batch ended."""
    inner = ListSearcher([{"x": i} for i in range(4)])
    limiter = ConcurrencyLimiter(inner, max_concurrent=2, batch=True)
    assert limiter.suggest("a") == {"x": 0} and limiter.suggest("b") == {"x": 1}
    assert limiter.suggest("c") is None
    limiter.on_trial_complete("a", {"m": 1})
    assert inner.completed == [] and limiter.suggest("d") is None
    limiter.on_trial_complete("b", {"m": 2})
    assert [c[0] for c in inner.completed] == ["a", "b"]
    assert limiter.suggest("e") == {"x": 2}


def test_concurrency_limiter_passes_through_when_searcher_limits_itself():
    """If the searcher limits concurrency itself, the limiter does not."""

    class SelfLimiting(RandomSearcher):
        def set_max_concurrency(self, max_concurrent):
            return True

    limiter = ConcurrencyLimiter(SelfLimiting(), max_concurrent=1)
    assert limiter.suggest("a") is not None and limiter.suggest("b") is not None


def test_concurrency_limiter_mirrors_and_forwards():
    """The limiter reports the inner metric/mode and forwards search properties and results."""
    inner = ListSearcher([{"x": 1}], accept_space=True)
    limiter = ConcurrencyLimiter(inner, max_concurrent=2)
    assert limiter.set_search_properties("acc", "max", {"x": uniform(0, 1)}) is True
    assert (limiter.metric, limiter.mode) == ("acc", "max")
    limiter.on_trial_result("t", {"acc": 1})
    assert inner.results == [("t", {"acc": 1})]
    limiter.on_trial_complete("unknown")  # not live: ignored
    assert inner.completed == []


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_concurrency_limiter_bad_max(bad):
    """max_concurrent must be an int >= 1."""
    with pytest.raises(ValueError, match=rf"max_concurrent must be an int >= 1, got {bad!r}"):
        ConcurrencyLimiter(RandomSearcher(), max_concurrent=bad)


def test_concurrency_limiter_needs_searcher():
    """Wrapping a non-Searcher is a TypeError that points to max_concurrent."""
    with pytest.raises(TypeError, match="wraps a Searcher.*max_concurrent"):
        ConcurrencyLimiter(BasicVariantGenerator(), max_concurrent=2)


def test_save_and_restore_roundtrip(tmp_path):
    """save/restore pickle the searcher state; save_to_dir/restore_from_dir use Ray's file name."""
    searcher = ListSearcher([{"x": 1}, {"x": 2}], metric="m", mode="min")
    searcher.suggest("t1")
    path = tmp_path / "state.pkl"
    searcher.save(str(path))
    fresh = ListSearcher([])
    fresh.restore(str(path))
    assert fresh.configs == [{"x": 2}] and fresh.metric == "m"
    searcher.save_to_dir(str(tmp_path))
    assert (tmp_path / "searcher-state-default.pkl").exists()
    other = ListSearcher([])
    other.restore_from_dir(str(tmp_path))
    assert other.suggested == ["t1"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no ListSearcher checkpoint"):
        other.restore_from_dir(str(tmp_path / "empty"))


def test_save_unpicklable_state_says_what_to_do(tmp_path):
    """An unpicklable searcher state raises TypeError naming get_state/save."""
    searcher = RandomSearcher()
    searcher.fn = lambda: 1
    with pytest.raises(TypeError, match="could not be pickled.*override get_state"):
        searcher.save(str(tmp_path / "s.pkl"))


def test_public_names_and_suggest_alias():
    """search.__all__ is the public surface and tune.suggest re-exports the same objects."""
    from greenroom.tune import suggest

    expected = {
        "Searcher",
        "ConcurrencyLimiter",
        "BasicVariantGenerator",
        "SearchAlgorithm",
        "SearchGenerator",
        "OptunaSearch",
        "HyperOptSearch",
        "BayesOptSearch",
    }
    assert expected <= set(search.__all__)
    for name in search.__all__:
        assert getattr(suggest, name) is getattr(search, name)


def test_create_searcher_by_name():
    """create_searcher builds by Ray's names and rejects unknown ones clearly."""
    assert isinstance(create_searcher("variant_generator"), BasicVariantGenerator)
    with pytest.raises(ValueError, match=r"unknown search algorithm 'ax'"):
        create_searcher("ax")
