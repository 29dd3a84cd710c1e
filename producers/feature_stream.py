"""The simulated fleet's feature samples: what each virtual replica logs, and
the loggers it logs them through.

Sample ``i`` of a run is served at ``start + floor(i × 1e9 / feature_rate)``
ns, by a replica drawn uniformly from the fleet; it comes from the candidate
distribution when that replica has switched by then (`producers.fleet`), else
from the baseline (`producers.feature_model`). Drift is planted on candidate
samples only, as `producers.scenarios` tables it:

* ``feature-drift``, ``categorical-drift``: the full ``drift_shift_sigma`` /
  ``drift_mass`` from the replica's switch on;
* ``gradual-drift``: ``(t − rollout) / (end − rollout)`` of it at time ``t``,
  growing linearly from 0 at ``rollout_at_s`` to all of it at the end of the
  run.

Samples are drawn in fixed blocks of `BLOCK` from one generator per block,
seeded by (seed, block), so sample ``i`` is the same whatever ranges a run
asks for: `feature_frame` returns exactly what `producers.simulator.run`
sends, and a realtime run sends the same samples as a backfill.

`producers.side_streams` sends them through the feature loggers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from producers.feature_model import (
    PREDICTION,
    FeatureDraw,
    FeatureModel,
    category_labels,
    draw_features,
    feature_model,
)
from producers.fleet import FleetPlan, plan_fleet
from producers.scenarios import GRADUAL_DRIFT, SimulationConfig

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

BLOCK = 1024
_MAX_BUFFERED = 100_000


@dataclass(frozen=True)
class FeatureChunk:
    """Samples ``first`` .. ``first + len − 1`` of a run, as parallel arrays.

    Attributes:
        first: index of the first sample in the run.
        timestamp_ms: event time of each sample, epoch ms.
        replica: replica index of each sample.
        on_candidate: whether the sample comes from the candidate version.
        draw: the features.
    """

    first: int
    timestamp_ms: np.ndarray
    replica: np.ndarray
    on_candidate: np.ndarray
    draw: FeatureDraw

    def __len__(self) -> int:
        return len(self.timestamp_ms)


class FeatureSource:
    """Draws a run's feature samples by index, block by block.

    Args:
        config: the simulation.
        plan: its fleet layout.
        start_ms: simulated start, epoch ms.
    """

    def __init__(self, config: SimulationConfig, plan: FleetPlan, start_ms: int):
        self.config = config
        self.plan = plan
        self.start_ms = start_ms
        self.model: FeatureModel = feature_model(
            config.seed, config.numeric_features, config.categorical_features
        )
        names = set(self.model.numeric_names)
        self._drift_numeric = [n for n in config.planted_inputs if n in names]
        self._drift_categorical = [n for n in config.planted_inputs if n not in names]
        self._rollout_offset_ns = round(config.rollout_offset_s * 1e9)
        self._duration_ns = round(config.duration_s * 1e9)
        self._cached: tuple[int, FeatureChunk] | None = None

    @property
    def total(self) -> int:
        """Samples in a full run."""
        return self.config.total_feature_samples

    def take(self, first: int, count: int) -> FeatureChunk:
        """Samples ``first`` .. ``first + count − 1``; empty when ``count``
        is 0."""
        parts: list[FeatureChunk] = []
        index, end = first, first + count
        while index < end:
            number = index // BLOCK
            block = self._block(number)
            lo = index - number * BLOCK
            hi = min(BLOCK, end - number * BLOCK)
            parts.append(_slice(block, lo, hi))
            index = number * BLOCK + hi
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return _slice(self._block(0), 0, 0)
        return FeatureChunk(
            first=first,
            timestamp_ms=np.concatenate([p.timestamp_ms for p in parts]),
            replica=np.concatenate([p.replica for p in parts]),
            on_candidate=np.concatenate([p.on_candidate for p in parts]),
            draw=FeatureDraw(
                numeric=np.concatenate([p.draw.numeric for p in parts]),
                categorical=np.concatenate([p.draw.categorical for p in parts]),
                prediction=np.concatenate([p.draw.prediction for p in parts]),
            ),
        )

    def _block(self, number: int) -> FeatureChunk:
        if self._cached is not None and self._cached[0] == number:
            return self._cached[1]
        config = self.config
        rng = np.random.default_rng([config.seed, 3, number])
        index = np.arange(number * BLOCK, (number + 1) * BLOCK, dtype=np.float64)
        offset_ns = np.floor(index * (1e9 / config.feature_rate)).astype(np.int64)
        replica = rng.integers(0, config.replicas, size=BLOCK)
        on_candidate = offset_ns >= self.plan.switch_offset_ns[replica]
        ramp = on_candidate.astype(np.float64)
        if config.scenario == GRADUAL_DRIFT:
            span_ns = max(1, self._duration_ns - self._rollout_offset_ns)
            growth = (offset_ns - self._rollout_offset_ns) / span_ns
            ramp *= np.clip(growth, 0.0, 1.0)
        draw = draw_features(
            self.model,
            rng,
            BLOCK,
            shift_sigma=ramp * config.drift_shift_sigma,
            drift_numeric=self._drift_numeric,
            mass=ramp * config.drift_mass,
            drift_categorical=self._drift_categorical,
            missing_share=config.missing_share,
        )
        block = FeatureChunk(
            first=number * BLOCK,
            timestamp_ms=self.start_ms + offset_ns // 1_000_000,
            replica=replica,
            on_candidate=on_candidate,
            draw=draw,
        )
        self._cached = (number, block)
        return block


def _slice(block: FeatureChunk, lo: int, hi: int) -> FeatureChunk:
    return FeatureChunk(
        first=block.first + lo,
        timestamp_ms=block.timestamp_ms[lo:hi],
        replica=block.replica[lo:hi],
        on_candidate=block.on_candidate[lo:hi],
        draw=FeatureDraw(
            numeric=block.draw.numeric[lo:hi],
            categorical=block.draw.categorical[lo:hi],
            prediction=block.draw.prediction[lo:hi],
        ),
    )


def feature_frame(
    config: SimulationConfig, start_ms: int | None = None
) -> pd.DataFrame:
    """Every feature sample a full run of ``config`` sends, without Kafka.

    Args:
        config: the simulation.
        start_ms: the run's start, epoch ms; None means ``config.start_ms``,
            else 0.

    Returns:
        Columns ``timestamp_ms``, ``replica``, ``shard``, ``version``, the
        features (categorical as object, None for missing; numeric NaN for
        missing) and ``prediction``; one row per sample, in sending order.
        Empty when the config emits no features.
    """
    import pandas as pd  # only here: serving replicas need no pandas

    if start_ms is None:
        start_ms = config.start_ms or 0
    plan = plan_fleet(config)
    source = FeatureSource(config, plan, start_ms)
    chunk = source.take(0, source.total)
    model = source.model
    versions = np.where(
        chunk.on_candidate, config.candidate_version, config.baseline_version
    )
    columns: dict[str, Any] = {
        "timestamp_ms": chunk.timestamp_ms,
        "replica": np.asarray(plan.replica_ids, dtype=object)[chunk.replica],
        "shard": np.asarray(plan.replica_shards, dtype=object)[chunk.replica],
        "version": versions.astype(object),
    }
    columns.update(zip(model.numeric_names, chunk.draw.numeric.T, strict=True))
    columns.update(
        zip(
            model.categorical_names,
            category_labels(model, chunk.draw.categorical),
            strict=True,
        )
    )
    columns[PREDICTION] = chunk.draw.prediction
    return pd.DataFrame(columns)
