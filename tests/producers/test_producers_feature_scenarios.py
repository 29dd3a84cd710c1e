"""The simulated features: each scenario plants exactly its change, one seed
gives the same samples, and the reference frame is the baseline.

These check the generated data in-process (`feature_frame`), without Kafka;
the run that sends them through a real broker is in
``test_producers_feature_simulation.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from scipy import stats

from driftline.errors import ConfigError
from producers import (
    CATEGORICAL_DRIFT,
    FEATURE_DRIFT,
    GRADUAL_DRIFT,
    NO_DRIFT,
    PREDICTION_INPUTS,
    STALLED_ROLLOUT,
    SimulationConfig,
    feature_frame,
    plan_fleet,
    reference_frame,
    run,
)
from producers.feature_model import feature_model
from producers.feature_stream import FeatureSource

START_MS = 1_700_000_000_000
NUMERIC = [f"f{i:02d}" for i in range(20)]
CATEGORICAL = ["c0", "c1", "c2"]
FEATURES = [*NUMERIC, *CATEGORICAL, "prediction"]
# Per-feature test level with a Bonferroni correction over the 24 features;
# the seeds are fixed, so each outcome below is fixed too.
ALPHA = 0.001 / len(FEATURES)


def config(scenario: str, **overrides: Any) -> SimulationConfig:
    settings: dict[str, Any] = {
        "scenario": scenario,
        "rate_per_s": 100.0,
        "feature_rate_per_s": 2_000.0,
        "duration_s": 30.0,
        "seed": 3,
        "start_ms": START_MS,
        "candidate_share": 0.5,
    }
    settings.update(overrides)
    return SimulationConfig(**settings)


def drifted(frame: pd.DataFrame, candidate: str = "v2") -> set[str]:
    """Features whose candidate distribution differs from the baseline's."""
    base = frame[frame.version == "v1"]
    cand = frame[frame.version == candidate]
    found = set()
    for name in FEATURES:
        if name in CATEGORICAL:
            table = pd.crosstab(
                pd.concat([base[name], cand[name]]),
                np.r_[np.zeros(len(base)), np.ones(len(cand))],
            )
            p_value = stats.chi2_contingency(table)[1]
        else:
            p_value = stats.ks_2samp(base[name], cand[name]).pvalue
        if p_value < ALPHA:
            found.add(name)
    return found


def test_there_are_twenty_five_features_and_the_prediction_ignores_the_planted_ones():
    model = feature_model(3)

    assert model.names == tuple(FEATURES)
    assert set(PREDICTION_INPUTS).isdisjoint({"f03", "f11"})
    assert "c1" not in model.prediction_inputs
    assert all(5 <= len(c) <= 20 for c in model.categories)


def test_no_drift_candidates_look_like_the_baseline_in_every_feature() -> None:
    frame = feature_frame(config(NO_DRIFT, duration_s=60.0))

    assert (frame.version == "v2").sum() > 20_000
    assert drifted(frame) == set()


def test_feature_drift_shifts_exactly_the_planted_features_on_candidate_samples():
    drift = feature_frame(config(FEATURE_DRIFT))
    same = feature_frame(config(NO_DRIFT))
    sd = feature_model(3).sd
    candidate = drift.version == "v2"

    # Same seed, same draws: only the planted cells of candidate rows differ,
    # and by exactly drift_shift_sigma × the feature's sd.
    for i, name in enumerate(NUMERIC):
        delta = (drift[name] - same[name]).to_numpy()
        expected = np.where(candidate, sd[i], 0.0) if name in ("f03", "f11") else 0
        np.testing.assert_allclose(delta, expected, atol=1e-9)
    for name in [*CATEGORICAL, "prediction", "replica", "timestamp_ms", "version"]:
        assert drift[name].equals(same[name])
    assert drifted(drift) == {"f03", "f11"}


def test_drift_in_a_prediction_input_also_moves_the_prediction() -> None:
    cfg = config(FEATURE_DRIFT, drift_features=("f01",))

    assert cfg.planted_features == ("f01", "prediction")
    assert drifted(feature_frame(cfg)) == {"f01", "prediction"}


def test_categorical_drift_moves_mass_to_the_rarest_category_of_c1_only() -> None:
    cfg = config(CATEGORICAL_DRIFT)
    drift, same = feature_frame(cfg), feature_frame(config(NO_DRIFT))
    rarest = feature_model(3).rarest("c1")
    candidate = (drift.version == "v2").to_numpy()
    changed = (drift.c1 != same.c1).to_numpy()

    assert not changed[~candidate].any()
    assert (drift.c1[changed] == rarest).all()
    # Each candidate value not already the rarest moves with p = drift_mass.
    eligible = candidate & (same.c1 != rarest).to_numpy()
    n, p = int(eligible.sum()), cfg.drift_mass
    assert abs(changed.sum() - n * p) < 4 * np.sqrt(n * p * (1 - p))
    for name in [*NUMERIC, "c0", "c2", "prediction"]:
        assert drift[name].equals(same[name])
    assert cfg.planted_features == ("c1",)
    assert drifted(drift) == {"c1"}


def test_gradual_drift_grows_linearly_from_the_rollout_to_the_end() -> None:
    cfg = config(GRADUAL_DRIFT, drift_shift_sigma=2.0)
    drift, same = feature_frame(cfg), feature_frame(config(NO_DRIFT))
    sd = feature_model(3).sd[3]
    rollout_ms = START_MS + 6_000
    end_ms = START_MS + 30_000
    cand = drift[drift.version == "v2"]

    shift = (cand.f03 - same.f03[cand.index]) / sd
    expected = 2.0 * (cand.timestamp_ms - rollout_ms) / (end_ms - rollout_ms)
    np.testing.assert_allclose(shift, expected, atol=1e-3)
    early = drift[drift.timestamp_ms < rollout_ms + 2_000]
    late = drift[drift.timestamp_ms >= end_ms - 8_000]
    assert drifted(early) == set()
    assert drifted(late) == {"f03", "f11"}


def test_a_stalled_rollout_switches_one_replica_at_a_time_and_stops_at_thirty_percent():
    cfg = config(STALLED_ROLLOUT, replicas=40, duration_s=60.0, rollout_at_s=10.0)
    plan = plan_fleet(cfg)
    switch_ms = plan.rollout_ms(START_MS)
    frame = feature_frame(cfg)

    assert cfg.candidate_replicas == 12 and cfg.target_replicas == 40
    # One replica every (60 − 10) / (2 × 12) s, floored to the ms.
    steps_ms = np.diff([START_MS + 10_000, *sorted(switch_ms.values())])
    assert steps_ms[0] == 0
    assert set(steps_ms[1:]) <= {2_083, 2_084}
    cand = frame[frame.version == "v2"]
    assert set(cand.replica) == set(switch_ms)
    assert (cand.timestamp_ms >= cand.replica.map(switch_ms)).all()
    late = frame[frame.timestamp_ms >= START_MS + 40_000]
    assert set(late[late.version == "v2"].replica) == set(switch_ms)
    assert set(late[late.version == "v1"].replica).isdisjoint(switch_ms)
    assert cfg.planted_features == ()
    assert drifted(frame) == set()


def test_a_stalled_rollout_has_no_slow_replicas_and_the_target_is_the_fleet():
    cfg = config(STALLED_ROLLOUT, replicas=20, shards=4)

    assert plan_fleet(cfg).slow_replicas == ()
    assert cfg.target_replicas == 20
    assert config(FEATURE_DRIFT, replicas=20).target_replicas == 10


def test_the_same_seed_gives_the_same_samples_and_another_seed_others() -> None:
    first = feature_frame(config(FEATURE_DRIFT))
    second = feature_frame(config(FEATURE_DRIFT))
    other = feature_frame(config(FEATURE_DRIFT, seed=4))

    pd.testing.assert_frame_equal(first, second)
    assert not np.allclose(first.f00, other.f00)


def test_a_sample_does_not_depend_on_the_ranges_a_run_asks_for() -> None:
    cfg = config(GRADUAL_DRIFT)
    whole = FeatureSource(cfg, plan_fleet(cfg), START_MS).take(0, 5_000)
    pieces = FeatureSource(cfg, plan_fleet(cfg), START_MS)
    bounds = [0, 1, 700, 1024, 1025, 3_333, 5_000]
    parts = [pieces.take(a, b - a) for a, b in pairwise(bounds)]

    np.testing.assert_array_equal(
        np.concatenate([p.draw.numeric for p in parts]), whole.draw.numeric
    )
    np.testing.assert_array_equal(
        np.concatenate([p.replica for p in parts]), whole.replica
    )


class RecordingProducer:
    """Keeps produced values in memory. Only for checking what the simulator
    draws; delivery through a real broker is tested elsewhere."""

    def __init__(self) -> None:
        self.values: list[bytes] = []

    def produce(self, topic: str, value: bytes, **kwargs: Any) -> None:
        self.values.append(value)

    def poll(self, timeout: float = 0) -> int:
        return 0

    def flush(self, timeout: float = 0) -> int:
        return 0

    def __len__(self) -> int:
        return 0


class NoSpans(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def test_a_realtime_run_draws_the_same_samples_as_a_backfill() -> None:
    paced = config(
        GRADUAL_DRIFT,
        rate_per_s=200.0,
        feature_rate_per_s=1_000.0,
        duration_s=0.5,
        realtime=True,
    )
    recorded = {True: RecordingProducer(), False: RecordingProducer()}

    for realtime, producer in recorded.items():
        cfg = SimulationConfig(**{**paced.__dict__, "realtime": realtime})
        run(cfg, NoSpans(), feature_producer=producer)  # type: ignore[arg-type]

    assert len(recorded[True].values) == 500
    assert recorded[True].values == recorded[False].values


def test_the_feature_rate_sets_the_sample_count_and_the_clock() -> None:
    frame = feature_frame(config(NO_DRIFT, feature_rate_per_s=500.0, duration_s=4.0))

    assert len(frame) == 2_000
    assert frame.timestamp_ms.iloc[0] == START_MS
    assert frame.timestamp_ms.iloc[-1] == START_MS + 3_998


def test_missing_values_are_spread_evenly_and_do_not_drift() -> None:
    frame = feature_frame(config(NO_DRIFT, missing_share=0.05))

    share = frame[NUMERIC].isna().to_numpy().mean()
    assert abs(share - 0.05) < 0.005
    assert frame.c1.isna().mean() == pytest.approx(0.05, abs=0.01)
    assert frame.prediction.notna().all()


def test_the_reference_frame_is_drawn_from_the_baseline_distributions() -> None:
    reference = reference_frame(3, 20_000)
    live = feature_frame(config(NO_DRIFT))
    model = feature_model(3)

    assert list(reference.columns) == FEATURES
    assert len(reference) == 20_000
    live_base = live[live.version == "v1"].drop(
        columns=["timestamp_ms", "replica", "shard", "version"]
    )
    assert (
        drifted(
            pd.concat([live_base.assign(version="v1"), reference.assign(version="v2")])
        )
        == set()
    )
    # Means within 4 standard errors of the model's analytic means.
    error = 4 * model.sd / np.sqrt(len(reference))
    assert (np.abs(reference[NUMERIC].mean().to_numpy() - model.mean) < error).all()
    for name, cats, p in zip(
        CATEGORICAL, model.categories, model.probabilities, strict=True
    ):
        freq = reference[name].value_counts(normalize=True).reindex(cats).fillna(0)
        assert np.abs(freq.to_numpy() - p).max() < 4 * np.sqrt(0.25 / len(reference))


def test_the_reference_frame_writes_to_parquet_and_reads_back(tmp_path) -> None:
    reference = reference_frame(SimulationConfig(seed=3), 1_000)
    path = tmp_path / "reference.parquet"

    reference.to_parquet(path)

    pd.testing.assert_frame_equal(pd.read_parquet(path), reference)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"drift_features": ("f99",)},
            "--drift-features must name input features (f00.., c0..); ['f99']",
        ),
        ({"drift_features": ("prediction",)}, "--drift-features must name input"),
        ({"drift_features": ()}, "--drift-features must name a feature for"),
        ({"feature_rate_per_s": 0.0}, "--feature-rate must be a positive number"),
        ({"drift_mass": 1.5}, "--drift-mass must be in [0, 1], got 1.5"),
        ({"stall_share": 1.0}, "--stall-share must be between 0 and 1, got 1.0"),
        ({"numeric_features": 2}, "--drift-features must name input features"),
    ],
)
def test_a_bad_feature_setting_raises_a_config_error_naming_its_flag(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        config(FEATURE_DRIFT, **overrides)

    assert message in str(raised.value)
