"""One contract suite run over every sketch type: update, merge, bytes, pickle,
empty and invalid input."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from sketches import CategoricalSketch, NumericSketch, SketchError


@dataclass
class Kind:
    name: str
    make: Callable[[], Any]
    sample: Callable[[np.random.Generator, int], Any]
    invalid: list[Any]
    summary: Callable[[Any], Any]


def _numeric_summary(sketch: NumericSketch) -> Any:
    quantiles = sketch.quantiles([0.0, 0.5, 1.0])
    return (sketch.n, sketch.n_invalid, np.nan_to_num(quantiles, nan=-1.0).tolist())


def _categorical_summary(sketch: CategoricalSketch) -> Any:
    return (sketch.n, sketch.n_invalid, sketch.frequencies())


KINDS = [
    Kind(
        "numeric",
        NumericSketch,
        lambda rng, n: rng.normal(size=n),
        [np.nan, np.inf, -np.inf, None],
        _numeric_summary,
    ),
    Kind(
        "categorical",
        CategoricalSketch,
        lambda rng, n: rng.choice(np.array(["a", "b", "c", "d"]), size=n),
        [None, np.nan],
        _categorical_summary,
    ),
]


@pytest.fixture(params=KINDS, ids=lambda kind: kind.name)
def kind(request: pytest.FixtureRequest) -> Kind:
    return request.param


def test_new_sketch_is_empty_and_round_trips(kind: Kind) -> None:
    sketch = kind.make()
    assert sketch.n == 0 and sketch.n_invalid == 0
    restored = type(sketch).from_bytes(sketch.to_bytes())
    assert kind.summary(restored) == kind.summary(sketch)


def test_update_counts_valid_and_invalid_values_separately(kind: Kind) -> None:
    sketch = kind.make()
    values = list(kind.sample(np.random.default_rng(0), 10)) + kind.invalid
    sketch.update(np.array(values, dtype=object))
    assert sketch.n == 10
    assert sketch.n_invalid == len(kind.invalid)


def test_all_invalid_input_leaves_sketch_empty(kind: Kind) -> None:
    sketch = kind.make()
    sketch.update(np.array(kind.invalid * 3, dtype=object))
    assert sketch.n == 0
    assert sketch.n_invalid == 3 * len(kind.invalid)


def test_bytes_and_pickle_round_trip_preserve_answers(kind: Kind) -> None:
    sketch = kind.make()
    sketch.update(kind.sample(np.random.default_rng(1), 5000))
    sketch.update(np.array(kind.invalid, dtype=object))
    data = sketch.to_bytes()
    assert data[0] == 1
    assert kind.summary(type(sketch).from_bytes(data)) == kind.summary(sketch)
    assert kind.summary(pickle.loads(pickle.dumps(sketch))) == kind.summary(sketch)


def test_merge_returns_self_and_adds_counts(kind: Kind) -> None:
    rng = np.random.default_rng(2)
    left, right = kind.make(), kind.make()
    left.update(kind.sample(rng, 300))
    right.update(kind.sample(rng, 200))
    right.update(np.array(kind.invalid, dtype=object))
    assert left.merge(right) is left
    assert left.n == 500
    assert left.n_invalid == len(kind.invalid)


def test_merging_an_empty_sketch_changes_nothing(kind: Kind) -> None:
    sketch = kind.make()
    sketch.update(kind.sample(np.random.default_rng(3), 100))
    before = kind.summary(sketch)
    sketch.merge(kind.make())
    assert kind.summary(sketch) == before


def test_merge_rejects_another_sketch_type(kind: Kind) -> None:
    other = next(k for k in KINDS if k.name != kind.name)
    with pytest.raises(SketchError):
        kind.make().merge(other.make())


@pytest.mark.parametrize(
    "data", [b"", b"\x01", b"\x02" + bytes(40), b"\x01" + bytes(8) + b"junk"]
)
def test_bad_bytes_raise_sketch_error(kind: Kind, data: bytes) -> None:
    with pytest.raises(SketchError):
        type(kind.make()).from_bytes(data)


def test_single_value_is_exact(kind: Kind) -> None:
    sketch = kind.make()
    sketch.update(kind.sample(np.random.default_rng(4), 1))
    restored = type(sketch).from_bytes(sketch.to_bytes())
    assert restored.n == 1
    assert kind.summary(restored) == kind.summary(sketch)
