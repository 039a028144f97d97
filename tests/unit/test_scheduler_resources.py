"""Fixed-point amounts, ResourceSet and parse_resources."""

import math

import pytest

from greenroom.scheduler.resources import (
    UNIT,
    ResourceSet,
    from_units,
    parse_resources,
    to_units,
)


def test_tenth_plus_fifth_is_exactly_three_tenths():
    """0.1 + 0.2 CPU is exactly 0.3 CPU, unlike floats."""
    total = ResourceSet.from_dict({"CPU": 0.1}) + ResourceSet.from_dict({"CPU": 0.2})
    assert total == ResourceSet.from_dict({"CPU": 0.3})
    assert total.get("CPU") == 3_000
    assert total.to_dict() == {"CPU": 0.3}


def test_halves_sum_to_one_gpu():
    """Two 0.5 GPU amounts sum to exactly one GPU in units."""
    half = to_units(0.5, name="num_gpus")
    assert half + half == UNIT


def test_to_units_rounds_to_four_decimals():
    """Amounts round to 4 decimals; ints convert exactly."""
    assert to_units(0.12344, name="x") == 1234
    assert to_units(0.12346, name="x") == 1235
    assert to_units(3, name="x") == 30_000
    assert to_units(0, name="x") == 0
    assert from_units(1234) == 0.1234


@pytest.mark.parametrize("bad", ["1", None, True, [1], b"1"])
def test_to_units_rejects_non_numbers(bad):
    """Strings, None, bools and lists are TypeErrors naming the option and value."""
    with pytest.raises(TypeError) as info:
        to_units(bad, name="num_cpus")
    assert f"num_cpus={bad!r}" in str(info.value)


@pytest.mark.parametrize("bad", [-1, -0.5, math.nan, math.inf, -math.inf])
def test_to_units_rejects_negative_and_non_finite(bad):
    """Negative, nan and infinite values are ValueErrors naming option and value."""
    with pytest.raises(ValueError) as info:
        to_units(bad, name="num_gpus")
    assert f"num_gpus={bad!r}" in str(info.value)


def test_to_units_rejects_positive_amount_that_rounds_to_zero():
    """A tiny positive amount fails instead of silently becoming 0."""
    with pytest.raises(ValueError, match=r"num_gpus=1e-05: below the smallest"):
        to_units(0.00001, name="num_gpus")


def test_resource_set_is_normalised_and_hashable():
    """Names sort, zeros drop, equal sets hash equal."""
    a = ResourceSet.from_dict({"GPU": 1, "CPU": 2, "foo": 0})
    b = ResourceSet((("CPU", 20_000), ("GPU", 10_000)))
    assert a.amounts == (("CPU", 20_000), ("GPU", 10_000))
    assert a == b and hash(a) == hash(b)
    assert {a: "shape"}[b] == "shape"


def test_resource_set_arithmetic_and_fits():
    """Add, subtract (negatives allowed), fits_in, emptiness."""
    a = ResourceSet.from_dict({"CPU": 2, "GPU": 1})
    b = ResourceSet.from_dict({"CPU": 1})
    assert (a - b).to_dict() == {"CPU": 1.0, "GPU": 1.0}
    assert (b - a).to_dict() == {"CPU": -1.0, "GPU": -1.0}
    assert b.fits_in(a) and not a.fits_in(b)
    assert ResourceSet().fits_in(b)
    assert (a - a).is_empty() and not (a - a)
    assert a and not a.is_empty()


def test_resource_set_get_and_describe():
    """get() returns units or 0; describe() reads like a dict."""
    a = ResourceSet.from_dict({"CPU": 2, "GPU": 1})
    assert a.get("GPU") == UNIT and a.get("foo") == 0
    assert a.describe() == "{'CPU': 2.0, 'GPU': 1.0}"
    assert ResourceSet().describe() == "{}"


def test_from_units_keeps_negatives_drops_zeros():
    """from_units is for availability: negatives stay, zeros go."""
    assert ResourceSet.from_units({"CPU": -5, "GPU": 0}).amounts == (("CPU", -5),)


def test_resource_set_rejects_duplicate_names():
    """A name given twice is an error rather than a silent overwrite."""
    with pytest.raises(ValueError, match="'CPU' appears twice"):
        ResourceSet((("CPU", 1), ("CPU", 2)))


def test_parse_resources_defaults_and_names():
    """CPU defaults to default_cpus; GPU, memory and custom names map through."""
    assert parse_resources() == ResourceSet.from_dict({"CPU": 1})
    assert parse_resources(default_cpus=0) == ResourceSet()
    req = parse_resources(num_cpus=0.5, num_gpus=2, memory=1024, resources={"tpu": 1})
    assert req.to_dict() == {"CPU": 0.5, "GPU": 2.0, "memory": 1024.0, "tpu": 1.0}


def test_parse_resources_fractional_gpu_above_one():
    """num_gpus=1.5 fails with a message saying whole numbers above 1."""
    with pytest.raises(ValueError) as info:
        parse_resources(num_gpus=1.5)
    assert str(info.value) == (
        "num_gpus=1.5: a request above 1 GPU must be a whole number of GPUs; "
        "fractional requests (<1) share one device"
    )
    assert parse_resources(num_gpus=0.25).get("GPU") == 2_500


@pytest.mark.parametrize(
    "name, option", [("CPU", "num_cpus"), ("GPU", "num_gpus"), ("memory", "memory")]
)
def test_parse_resources_rejects_reserved_custom_names(name, option):
    """resources={'CPU': ...} points at num_cpus= (and GPU, memory likewise)."""
    with pytest.raises(ValueError, match=f"use {option}= instead"):
        parse_resources(resources={name: 1})


def test_parse_resources_type_errors():
    """resources must be a dict of str -> number; options must be numbers."""
    with pytest.raises(TypeError, match="expected a dict"):
        parse_resources(resources=[("tpu", 1)])
    with pytest.raises(TypeError, match="must be a str"):
        parse_resources(resources={1: 1})
    with pytest.raises(ValueError, match="must not be empty"):
        parse_resources(resources={"": 1})
    with pytest.raises(TypeError, match=r"resources\['tpu'\]='1'"):
        parse_resources(resources={"tpu": "1"})
    with pytest.raises(TypeError, match="num_cpus='2'"):
        parse_resources(num_cpus="2")
    with pytest.raises(ValueError, match="memory=-1"):
        parse_resources(memory=-1)
