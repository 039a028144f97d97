"""Variant generation and BasicVariantGenerator: grids, samples, points, limits."""

from __future__ import annotations

import pytest

from greenroom.tune.search import BasicVariantGenerator, SearchAlgorithm, TrialSuggestion
from greenroom.tune.search.sample import choice, grid_search, randint, sample_from, uniform
from greenroom.tune.search.variant_generator import (
    count_variants,
    flatten_resolved_vars,
    format_vars,
    generate_variants,
    has_unresolved_values,
    parse_spec_vars,
)


def all_trials(gen: BasicVariantGenerator, limit: int = 1000) -> list[TrialSuggestion]:
    trials = []
    while not gen.is_finished() and len(trials) < limit:
        trial = gen.next_trial()
        assert trial is not None
        trials.append(trial)
    return trials


def test_grid_cross_product_in_ray_order():
    """Two grids give their product; the first path (sorted) varies fastest, as Ray."""
    space = {"b": grid_search([3, 4]), "a": grid_search([1, 2])}
    configs = [c for _, c in generate_variants(space)]
    assert [(c["a"], c["b"]) for c in configs] == [(1, 3), (2, 3), (1, 4), (2, 4)]


def test_num_samples_repeats_whole_grid():
    """num_samples passes over the grid: grid size x num_samples trials, grid order within each."""
    gen = BasicVariantGenerator(random_state=0)
    gen.add_configurations({"a": grid_search([1, 2, 3]), "x": uniform(0, 1)}, num_samples=4)
    trials = all_trials(gen)
    assert len(trials) == gen.total_samples == 12
    assert [t.config["a"] for t in trials] == [1, 2, 3] * 4
    assert len({t.config["x"] for t in trials}) == 12  # resampled per variant


def test_constant_grid_search_keeps_samples():
    """constant_grid_search samples once per pass and reuses it across the grid."""
    gen = BasicVariantGenerator(random_state=0, constant_grid_search=True)
    gen.add_configurations({"a": grid_search([1, 2]), "x": uniform(0, 1)}, num_samples=2)
    xs = [t.config["x"] for t in all_trials(gen)]
    assert xs[0] == xs[1] and xs[2] == xs[3] and xs[0] != xs[2]


def test_nested_dicts_and_lists_resolved():
    """Domains and grids inside nested dicts and lists are resolved, constants kept."""
    space = {
        "opt": {"lr": uniform(0, 1), "kind": grid_search(["sgd", "adam"])},
        "layers": [randint(1, 4), 7],
        "k": "v",
    }
    variants = list(generate_variants(space, random_state=1))
    assert len(variants) == 2
    for resolved, config in variants:
        assert 0 <= config["opt"]["lr"] < 1 and 1 <= config["layers"][0] < 4
        assert config["layers"][1] == 7 and config["k"] == "v"
        assert not has_unresolved_values(config)
        assert set(flatten_resolved_vars(resolved)) == {"opt/lr", "opt/kind", "layers/0"}
    assert [c["opt"]["kind"] for _, c in variants] == ["sgd", "adam"]


def test_param_space_not_mutated():
    """Generating variants leaves the param_space untouched."""
    space = {"a": {"b": uniform(0, 1)}, "g": grid_search([1, 2])}
    before = repr(space)
    list(generate_variants(space, random_state=0))
    assert repr(space) == before


def test_grid_values_may_hold_domains():
    """Grid values that contain domains are resolved too."""
    space = {"opt": grid_search([{"name": "sgd", "lr": uniform(0, 1)}, {"name": "adam", "lr": 0.5}])}
    configs = [c for _, c in generate_variants(space, random_state=0)]
    assert configs[0]["opt"]["name"] == "sgd" and 0 <= configs[0]["opt"]["lr"] < 1
    assert configs[1]["opt"] == {"name": "adam", "lr": 0.5}


def test_sample_from_depends_on_other_keys():
    """sample_from sees sampled, grid and other sample_from values via spec.config."""
    space = {
        "c": sample_from(lambda spec: spec.config.b + 1),  # depends on another sample_from
        "b": sample_from(lambda spec: spec.config.a * 10 + spec.config.g),
        "a": randint(1, 5),
        "g": grid_search([0, 100]),
    }
    for _, config in generate_variants(space, random_state=3):
        assert config["b"] == config["a"] * 10 + config["g"]
        assert config["c"] == config["b"] + 1


def test_sample_from_key_access_and_nested():
    """sample_from specs allow key access, nested attribute access and config-direct access."""
    space = {
        "opt": {"lr": uniform(0, 1)},
        "x": sample_from(lambda spec: spec["config"]["opt"]["lr"] * 2),
        "y": sample_from(lambda cfg: cfg.opt.lr),
    }
    _, config = next(generate_variants(space, random_state=0))
    assert config["x"] == config["opt"]["lr"] * 2 and config["y"] == config["opt"]["lr"]


def test_sample_from_cycle_is_clear_error():
    """sample_from values that depend on each other raise naming the keys."""
    space = {"a": sample_from(lambda s: s.config.b), "b": sample_from(lambda s: s.config.a)}
    with pytest.raises(ValueError, match=r"'a', 'b' never resolved.*cycle"):
        list(generate_variants(space))


def test_sample_from_error_names_key():
    """An exception in a sample_from function is re-raised naming its key."""
    space = {"a": sample_from(lambda s: s.config.missing)}
    with pytest.raises(ValueError, match=r"sample_from function for 'a' raised AttributeError"):
        list(generate_variants(space))


def test_evaluated_params_and_experiment_tag():
    """evaluated_params are flat "a/b" values; tags are Ray's "0_lr=0.0100,momentum=0.9000"."""
    gen = BasicVariantGenerator(random_state=0)
    gen.add_configurations(
        {"lr": grid_search([0.01, 0.1]), "momentum": 0.9, "opt": {"momentum": grid_search([0.9])}}
    )
    first, second = all_trials(gen)
    assert first.experiment_tag == "0_lr=0.0100,momentum=0.9000"
    assert second.experiment_tag == "1_lr=0.1000,momentum=0.9000"
    assert first.evaluated_params == {"lr": 0.01, "opt/momentum": 0.9}


def test_format_vars_cleans_values():
    """format_vars sorts by path, keeps the last key and cleans values for paths."""
    tag = format_vars({("b",): "a b/c", ("a", "x"): 1.5, ("c",): [1, 2]})
    assert tag == "x=1.5000,b=a_b_c,c=1_2"


def test_no_domains_gives_plain_tag():
    """A space with only constants gives one trial tagged by its index."""
    gen = BasicVariantGenerator()
    gen.add_configurations({"a": 1}, num_samples=2)
    trials = all_trials(gen)
    assert [t.experiment_tag for t in trials] == ["0", "1"] and trials[0].evaluated_params == {}


def test_seed_reproduces_configs():
    """The same random_state gives the same configs; another differs."""
    space = {"x": uniform(0, 1), "c": choice(list("abcdefgh")), "g": grid_search([1, 2])}

    def configs(seed):
        gen = BasicVariantGenerator(random_state=seed)
        gen.add_configurations(space, num_samples=5)
        return [t.config for t in all_trials(gen)]

    assert configs(42) == configs(42)
    assert configs(42) != configs(43)


def test_add_configurations_seed_overrides():
    """add_configurations(seed=...) reproduces that experiment regardless of the generator."""
    space = {"x": uniform(0, 1)}
    a, b = BasicVariantGenerator(random_state=1), BasicVariantGenerator(random_state=2)
    a.add_configurations(space, 3, seed=9)
    b.add_configurations(space, 3, seed=9)
    assert [t.config for t in all_trials(a)] == [t.config for t in all_trials(b)]


def test_trial_ids_unique_ray_format():
    """Trial ids are "<5 hex>_<5 digits>", unique, counting across experiments."""
    gen = BasicVariantGenerator()
    gen.add_configurations({"a": grid_search([1, 2])})
    gen.add_configurations({"b": grid_search([1, 2, 3])})
    ids = [t.trial_id for t in all_trials(gen)]
    assert len(set(ids)) == 5 and gen.total_samples == 5
    prefix = ids[0].split("_")[0]
    assert len(prefix) == 5 and all(c in "0123456789abcdef" for c in prefix)
    assert ids == [f"{prefix}_{i:05d}" for i in range(5)]


def test_points_to_evaluate_first_then_samples():
    """Points run first, each using one sample and expanding grids it leaves open (Ray's example)."""
    gen = BasicVariantGenerator(points_to_evaluate=[{"a": 2, "b": 2}, {"a": 1}, {"b": 2}], random_state=0)
    gen.add_configurations({"a": grid_search([1, 2]), "b": randint(0, 3)}, num_samples=4)
    trials = all_trials(gen)
    assert len(trials) == gen.total_samples == 6
    assert trials[0].config == {"a": 2, "b": 2}
    assert trials[1].config["a"] == 1
    assert [t.config for t in trials[2:4]] == [{"a": 1, "b": 2}, {"a": 2, "b": 2}]
    assert [t.config["a"] for t in trials[4:]] == [1, 2]


def test_points_to_evaluate_nested_and_unknown_key():
    """Points fill nested keys; a key outside param_space is a clear error."""
    gen = BasicVariantGenerator(points_to_evaluate=[{"opt": {"lr": 0.5}}])
    gen.add_configurations({"opt": {"lr": uniform(0, 1), "m": 0.9}}, num_samples=2)
    assert gen.next_trial().config == {"opt": {"lr": 0.5, "m": 0.9}}
    bad = BasicVariantGenerator(points_to_evaluate=[{"nope": 1}])
    with pytest.raises(ValueError, match=r"points_to_evaluate\[0\] sets 'nope'.*add it to param_space"):
        bad.add_configurations({"a": uniform(0, 1)})


def test_max_concurrent_limits_live_trials():
    """max_concurrent holds back trials until a live one completes."""
    gen = BasicVariantGenerator(max_concurrent=2)
    gen.add_configurations({"a": grid_search([1, 2, 3, 4])})
    first, second = gen.next_trial(), gen.next_trial()
    assert gen.next_trial() is None and not gen.is_finished()
    gen.on_trial_complete(first.trial_id, {"m": 1})
    third = gen.next_trial()
    assert third is not None and gen.next_trial() is None
    gen.on_trial_complete(second.trial_id, error=True)
    assert gen.next_trial().config == {"a": 4}
    assert gen.is_finished() and gen.next_trial() is None


def test_is_finished_exact_and_reopens():
    """is_finished turns True right after the last trial and False after new configurations."""
    gen = BasicVariantGenerator()
    gen.add_configurations({"a": 1})
    assert not gen.is_finished()
    gen.next_trial()
    assert gen.is_finished()
    gen.add_configurations({"a": 2})
    assert not gen.is_finished() and gen.next_trial().config == {"a": 2}


def test_basic_variant_is_search_algorithm():
    """BasicVariantGenerator implements SearchAlgorithm and accepts search properties."""
    gen = BasicVariantGenerator()
    assert isinstance(gen, SearchAlgorithm)
    assert gen.set_search_properties("loss", "min", {"a": 1}) is True


def test_basic_variant_bad_arguments():
    """Bad constructor arguments raise errors naming the value."""
    with pytest.raises(ValueError, match=r"max_concurrent must be an int >= 0 \(0: no limit\), got -1"):
        BasicVariantGenerator(max_concurrent=-1)
    with pytest.raises(TypeError, match=r"points_to_evaluate\[0\] must be a dict.*got 1"):
        BasicVariantGenerator(points_to_evaluate=[1])


def test_bad_num_samples():
    """num_samples below 1 is refused."""
    with pytest.raises(ValueError, match="num_samples must be an int >= 1, got 0"):
        BasicVariantGenerator().add_configurations({"a": 1}, num_samples=0)


def test_parse_and_count():
    """parse_spec_vars splits constants, domains and grids; count_variants counts trials."""
    space = {"a": 1, "b": uniform(0, 1), "c": grid_search([1, 2]), "d": {"e": grid_search([1, 2, 3])}}
    constants, domains, grids = parse_spec_vars(space)
    assert constants == [(("a",), 1)] and [p for p, _ in domains] == [("b",)]
    assert [p for p, _ in grids] == [("c",), ("d", "e")]
    assert count_variants(space, num_samples=2) == 12
    assert count_variants(space, num_samples=2, points=[{"c": 1}]) == 3 + 6


def test_set_finished_drops_queue():
    """set_finished ends the search at once."""
    gen = BasicVariantGenerator()
    gen.add_configurations({"a": grid_search([1, 2, 3])})
    gen.next_trial()
    gen.set_finished()
    assert gen.is_finished() and gen.next_trial() is None
