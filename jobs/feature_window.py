"""One shard's window of feature samples in, one bundle of sketches out.

`FeatureSketches` holds a `NumericSketch` per numeric feature and a
`CategoricalSketch` per categorical feature of one (model, version[, shard])
and window, plus how many samples carried each feature. It merges (the fleet
stage merges shard bundles, never samples) and serializes to bytes for the
row that leaves the hot path and for keyed state.

`build_feature_window` is the body of the drift job's vectorized aggregate:
it decodes the window's raw `FeatureSample` values once and builds every
feature's sketch from that window's columns in one `update` call each. The
numeric prediction is sketched as feature ``prediction`` and the categorical
one as ``prediction_label``, so output drift is checked like input drift.

Missing values: a null, NaN or infinite value is counted by the feature's
sketch (``n_invalid``) and never enters it; a feature absent from a sample is
counted as missing for that sample, so a feature that appears mid-stream has a
high missing rate in its first window rather than no row at all.
"""

from __future__ import annotations

import pickle
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from jobs.window_batch import WindowBatch
from schemas import FEATURE_SAMPLE
from sketches import CategoricalSketch, NumericSketch

_BUNDLE_VERSION = 1


@dataclass
class FeatureSketches:
    """Sketches of every feature of one window (of a shard or the fleet)."""

    n: int = 0
    numeric: dict[str, NumericSketch] = field(default_factory=dict)
    categorical: dict[str, CategoricalSketch] = field(default_factory=dict)

    def missing_rate(self, feature: str) -> float:
        """Share of this window's samples without a usable value of ``feature``."""
        sketch: NumericSketch | CategoricalSketch | None = self.numeric.get(
            feature
        ) or self.categorical.get(feature)
        if sketch is None or self.n == 0:
            return 1.0 if self.n else 0.0
        return max(0.0, 1.0 - sketch.n / self.n)

    def merge(self, other: FeatureSketches) -> FeatureSketches:
        """Fold ``other`` in (features missing on one side are adopted)."""
        self.n += other.n
        for name, sketch in other.numeric.items():
            mine = self.numeric.get(name)
            self.numeric[name] = sketch if mine is None else mine.merge(sketch)
        for name, cat in other.categorical.items():
            current = self.categorical.get(name)
            self.categorical[name] = cat if current is None else current.merge(cat)
        return self

    def to_bytes(self) -> bytes:
        return pickle.dumps(
            (
                _BUNDLE_VERSION,
                self.n,
                {k: v.to_bytes() for k, v in self.numeric.items()},
                {k: v.to_bytes() for k, v in self.categorical.items()},
            ),
            protocol=5,
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> FeatureSketches:
        version, n, numeric, categorical = pickle.loads(data)
        if version != _BUNDLE_VERSION:
            raise ValueError(f"unknown feature bundle version {version!r}")
        return cls(
            n=n,
            numeric={k: NumericSketch.from_bytes(v) for k, v in numeric.items()},
            categorical={
                k: CategoricalSketch.from_bytes(v) for k, v in categorical.items()
            },
        )


class FeatureWindowRow(NamedTuple):
    n: int
    replicas: int
    bundle: bytes
    dead_letters: list[bytes]


def build_feature_window(batch: WindowBatch, k: int | None = None) -> FeatureWindowRow:
    """Decode one window's feature samples and sketch every feature.

    Returns:
        The number of decoded samples, distinct replicas, the serialized
        `FeatureSketches` and encoded dead letters for values that are not
        feature samples. An empty window gives an empty bundle.
    """
    numeric: defaultdict[str, list[Any]] = defaultdict(list)
    categorical: defaultdict[str, list[Any]] = defaultdict(list)
    replicas: set[str] = set()
    n = 0
    for _, sample in batch.records(FEATURE_SAMPLE, "driftline.FeatureSample"):
        n += 1
        replicas.add(sample["replica"])
        for name, number in sample["numeric"].items():
            numeric[name].append(number)
        for name, label in sample["categorical"].items():
            categorical[name].append(label)
        if sample["prediction"] is not None:
            numeric["prediction"].append(sample["prediction"])
        if sample["prediction_label"] is not None:
            categorical["prediction_label"].append(sample["prediction_label"])

    bundle = FeatureSketches(n=n)
    for name, numbers in numeric.items():
        sketch = NumericSketch() if k is None else NumericSketch(k)
        sketch.update(np.array(numbers, dtype=np.float64))
        bundle.numeric[name] = sketch
    for name, labels in categorical.items():
        cat = CategoricalSketch()
        cat.update(labels)
        bundle.categorical[name] = cat
    return FeatureWindowRow(n, len(replicas), bundle.to_bytes(), batch.dead_letters)
