"""Search-space domains: bounds, quantization, seeds, validation errors."""

from __future__ import annotations

import math
import random

import pytest

from greenroom.tune.search import sample
from greenroom.tune.search.sample import (
    Categorical,
    Float,
    Function,
    Integer,
    LogUniform,
    Normal,
    Quantized,
    Uniform,
    choice,
    grid_search,
    lograndint,
    loguniform,
    qlograndint,
    qloguniform,
    qrandint,
    qrandn,
    quniform,
    randint,
    randn,
    sample_from,
    uniform,
)

N = 2000


def draws(domain, n=N, seed=0):
    return domain.sample(size=n, random_state=seed)


def is_multiple(value, q):
    return math.isclose(value / q, round(value / q), abs_tol=1e-9)


def test_uniform_within_bounds():
    """uniform draws floats in [lower, upper) covering the range."""
    values = draws(uniform(-2, 3))
    assert all(isinstance(v, float) and -2 <= v < 3 for v in values)
    assert min(values) < -1.5 and max(values) > 2.5


def test_quniform_quantized_and_bounded():
    """quniform draws multiples of q inside the bounds, upper reachable."""
    values = draws(quniform(0, 1, 0.1))
    assert all(0 <= v <= 1 and is_multiple(v, 0.1) for v in values)
    assert {0.0, 1.0} <= set(values)
    assert 0.7 in values or 0.3 in values  # no float noise such as 0.7000000000000001


def test_loguniform_within_bounds_and_log_spread():
    """loguniform stays in bounds and spreads over orders of magnitude."""
    values = draws(loguniform(1e-4, 1e-1))
    assert all(1e-4 <= v <= 1e-1 for v in values)
    below_1e3 = sum(v < 1e-3 for v in values) / len(values)
    assert 0.25 < below_1e3 < 0.42  # a third of the log range


def test_qloguniform_quantized():
    """qloguniform draws multiples of q within bounds."""
    values = draws(qloguniform(1, 1000, 1))
    assert all(1 <= v <= 1000 and is_multiple(v, 1) for v in values)


def test_randint_upper_exclusive():
    """randint draws ints from lower to upper - 1, all of them."""
    values = draws(randint(0, 5))
    assert all(isinstance(v, int) for v in values)
    assert set(values) == {0, 1, 2, 3, 4}


def test_qrandint_upper_inclusive():
    """qrandint draws multiples of q with the upper bound included."""
    assert set(draws(qrandint(0, 10, 5))) == {0, 5, 10}
    assert set(draws(qrandint(1, 3))) == {1, 2, 3}


def test_qrandint_lower_not_a_multiple():
    """qrandint with a lower bound between multiples starts at the next multiple."""
    assert set(draws(qrandint(3, 12, 5))) == {5, 10}


def test_lograndint_bounds():
    """lograndint draws ints in [lower, upper) favouring small values."""
    values = draws(lograndint(1, 1000))
    assert all(isinstance(v, int) and 1 <= v < 1000 for v in values)
    assert sum(v < 32 for v in values) > len(values) / 3


def test_qlograndint_quantized_inclusive():
    """qlograndint draws multiples of q within [lower, upper]."""
    values = draws(qlograndint(2, 100, 2))
    assert all(isinstance(v, int) and 2 <= v <= 100 and v % 2 == 0 for v in values)


def test_randn_mean_and_sd():
    """randn draws have about the given mean and sd."""
    values = draws(randn(5, 2), n=5000)
    mean = sum(values) / len(values)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    assert abs(mean - 5) < 0.15 and abs(sd - 2) < 0.15


def test_qrandn_quantized():
    """qrandn draws are multiples of q."""
    assert all(is_multiple(v, 0.5) for v in draws(qrandn(0, 3, 0.5)))


def test_choice_draws_every_category():
    """choice draws only given categories, each of them, keeping their types."""
    categories = ["a", 2, None, {"k": 1}]
    values = draws(choice(categories))
    assert all(v in categories for v in values)
    assert len({repr(v) for v in values}) == 4


def test_sample_size_one_is_scalar_and_size_n_is_list():
    """size 1 (or None) gives one value, size n a list of n."""
    domain = uniform(0, 1)
    assert isinstance(domain.sample(random_state=1), float)
    assert isinstance(domain.sample(size=None, random_state=1), float)
    assert len(domain.sample(size=3, random_state=1)) == 3


def test_seed_reproduces():
    """The same seed gives the same draws, a different seed different ones."""
    for domain in (uniform(0, 1), randint(0, 1000), choice(list(range(100))), randn(), loguniform(1, 10)):
        assert draws(domain, 20, seed=7) == draws(domain, 20, seed=7)
        assert draws(domain, 20, seed=7) != draws(domain, 20, seed=8)


def test_random_state_variants():
    """random_state accepts a Random, None (numpy's global RNG, as Ray) and numpy generators."""
    rng_a, rng_b = random.Random(3), random.Random(3)
    assert uniform(0, 1).sample(random_state=rng_a) == uniform(0, 1).sample(random_state=rng_b)
    np = pytest.importorskip("numpy")
    np.random.seed(11)
    first = uniform(0, 1).sample()
    np.random.seed(11)
    assert uniform(0, 1).sample() == first
    a = uniform(0, 1).sample(random_state=np.random.default_rng(5))
    assert a == uniform(0, 1).sample(random_state=np.random.default_rng(5))
    assert 0 <= uniform(0, 1).sample(random_state=np.random.RandomState(5)) < 1


def test_sample_from_zero_and_one_argument():
    """sample_from takes functions of no argument or of the spec."""
    assert sample_from(lambda: 4).sample() == 4
    assert sample_from(lambda spec: spec["a"] * 2).sample(config={"a": 3}) == 6
    assert Function(lambda spec: 1).pass_config and not Function(lambda: 1).pass_config


def test_sample_from_bad_signature():
    """sample_from rejects functions needing two arguments, and non-callables."""
    with pytest.raises(ValueError, match="0 arguments or 1"):
        sample_from(lambda a, b: a)
    with pytest.raises(TypeError, match="callable"):
        sample_from(3)


def test_grid_search_returns_ray_dict():
    """grid_search returns {"grid_search": values} and rejects empty or scalar values."""
    assert grid_search([1, 2]) == {"grid_search": [1, 2]}
    assert grid_search(range(2)) == {"grid_search": [0, 1]}
    with pytest.raises(ValueError, match="at least one value"):
        grid_search([])
    with pytest.raises(TypeError, match="list of values"):
        grid_search("ab")


def test_grid_domain_cannot_be_sampled():
    """A grid Categorical refuses sample() and says to use choice."""
    with pytest.raises(RuntimeError, match="choice"):
        Categorical([1, 2]).grid().sample()


def test_samplers_exposed_as_ray():
    """Domains expose Ray's sampler objects for adapters to read."""
    assert isinstance(uniform(0, 1).get_sampler(), Uniform)
    assert isinstance(loguniform(1, 2).get_sampler(), LogUniform)
    assert isinstance(randn().get_sampler(), Normal)
    q = qrandint(0, 10, 2).get_sampler()
    assert isinstance(q, Quantized) and q.q == 2 and isinstance(q.get_sampler(), Uniform)
    assert isinstance(randint(0, 3), Integer) and isinstance(uniform(0, 1), Float)


def test_is_valid():
    """is_valid checks bounds and membership."""
    assert uniform(0, 1).is_valid(0.5) and not uniform(0, 1).is_valid(2)
    assert choice(["a"]).is_valid("a") and not choice(["a"]).is_valid("b")


def test_domains_are_copies():
    """Sampler methods return new domains and leave the original alone."""
    base = Float(0, 1)
    assert base.uniform() is not base and base.sampler is None


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: uniform(1, 1), r"lower < upper, got lower=1, upper=1"),
        (lambda: uniform(2, 1), r"lower < upper"),
        (lambda: randint(5, 5), r"lower < upper"),
        (lambda: loguniform(0, 1), r"lower > 0 .*got lower=0"),
        (lambda: lograndint(-1, 10), r"lower > 0"),
        (lambda: quniform(0, 1, 0), r"q must be > 0, got q=0"),
        (lambda: quniform(0, 1, -0.1), r"q must be > 0"),
        (lambda: quniform(0.05, 1, 0.1), r"lower bound 0.05 is not a multiple of q=0.1"),
        (lambda: qrandint(0, 10, 2.5), r"whole q"),
        (lambda: qrandint(1, 4, 5), r"no multiple of q=5"),
        (lambda: choice([]), r"at least one value"),
        (lambda: randn(0, 0), r"sd > 0, got sd=0"),
        (lambda: Float(0, 1).normal(), r"normal sampling takes no bounds"),
        (lambda: Float(None, 1).uniform(), r"finite bounds"),
    ],
)
def test_bad_bounds_raise_clear_errors(make, match):
    """Bad bounds, q, sd or categories raise ValueError naming the values."""
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_types_raise_type_errors():
    """Non-numeric bounds and non-list categories raise TypeError."""
    with pytest.raises(TypeError, match="lower must be a number, got 'a'"):
        uniform("a", 1)
    with pytest.raises(TypeError, match="must be an int, got 1.5"):
        randint(1.5, 3)
    with pytest.raises(TypeError, match="list of values"):
        choice("abc")


def test_second_sampler_rejected():
    """Setting a second sampler on a domain is an error."""
    with pytest.raises(ValueError, match="one sampler"):
        uniform(0, 1).set_sampler(LogUniform())


def test_module_all_lists_constructors():
    """sample.__all__ exports every Ray constructor."""
    for name in (
        "uniform",
        "quniform",
        "loguniform",
        "qloguniform",
        "randint",
        "qrandint",
        "lograndint",
        "qlograndint",
        "randn",
        "qrandn",
        "choice",
        "sample_from",
        "grid_search",
    ):
        assert name in sample.__all__ and callable(getattr(sample, name))
