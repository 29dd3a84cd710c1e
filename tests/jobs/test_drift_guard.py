"""Drift verdicts, reference profiles, announcements and rollout state in the
guard, on feature sketches built from seeded samples."""

from __future__ import annotations

import numpy as np

from jobs.feature_window import FeatureSketches, build_feature_window
from jobs.guard import (
    BASELINE_RULE_ANNOUNCED,
    Guard,
    GuardPolicy,
    GuardState,
    ModelWindow,
)
from jobs.rollout import RolloutPolicy
from jobs.window_batch import WindowBatch
from schemas import DEADLETTER, FEATURE_SAMPLE, SIGNAL
from sketches import CategoricalSketch, NumericSketch

WINDOW_MS = 10_000
T0_MS = 1_800_000_000_000
NUMERIC = [f"f{i:02d}" for i in range(20)]
CATEGORIES = ["a", "b", "c", "d", "e"]


def bundle(
    rng: np.random.Generator, n: int, shift: dict[str, float] | None = None
) -> FeatureSketches:
    shift = shift or {}
    sketches = FeatureSketches(n=n)
    for name in NUMERIC:
        sketch = NumericSketch()
        sketch.update(rng.normal(shift.get(name, 0.0), 1.0, n))
        sketches.numeric[name] = sketch
    probabilities = [0.4, 0.3, 0.15, 0.1, 0.05]
    if "c1" in shift:
        probabilities = [0.1, 0.1, 0.1, 0.1, 0.6]
    for name in ("c0", "c1"):
        cat = CategoricalSketch()
        cat.update(rng.choice(CATEGORIES, n, p=probabilities if name == "c1" else None))
        sketches.categorical[name] = cat
    return sketches


def window(
    rng: np.random.Generator, index: int, shift: dict[str, float] | None = None
) -> ModelWindow:
    start = T0_MS + index * WINDOW_MS
    return ModelWindow(
        "ranker",
        start,
        start + WINDOW_MS,
        features={"v1": bundle(rng, 3000), "v2": bundle(rng, 1000, shift)},
        feature_replicas={"v1": 30, "v2": 10},
    )


def test_planted_numeric_drift_rolls_back_naming_exactly_those_features() -> None:
    rng = np.random.default_rng(1)
    state = GuardState()
    guard = Guard()
    outcomes = [
        guard.observe(state, window(rng, w, {"f03": 1.0, "f11": 1.0})) for w in range(4)
    ]
    events = [o.rollback for o in outcomes if o.rollback]
    assert len(events) == 1
    event = events[0]
    assert {e["feature"] for e in event["evidence"]} == {"f03", "f11"}
    assert event["from_version"] == "v2" and event["to_version"] == "v1"
    for item in event["evidence"]:
        assert item["value"] > item["threshold"]
        assert item["p_value"] is not None


def test_categorical_drift_is_found_by_chi_square() -> None:
    rng = np.random.default_rng(2)
    state = GuardState()
    outcomes = [Guard().observe(state, window(rng, w, {"c1": 1.0})) for w in range(3)]
    event = outcomes[-1].rollback
    assert event is not None
    assert {e["feature"] for e in event["evidence"]} == {"c1"}
    assert {e["signal"] for e in event["evidence"]} == {"drift.chi2"}


def test_a_long_no_drift_run_never_rolls_back() -> None:
    rng = np.random.default_rng(3)
    state = GuardState()
    guard = Guard()
    outcomes = [guard.observe(state, window(rng, w)) for w in range(60)]
    assert all(o.rollback is None for o in outcomes)
    drift = [s for o in outcomes for s in o.signals if s["drift"]]
    assert len(drift) == 60 * 22
    flagged = sum(s["drift"]["drifted_corrected"] for s in drift)
    assert flagged <= 3  # BH at alpha=0.01 per window: about 0.6 expected


def test_reference_profiles_give_signals_but_never_a_rollback() -> None:
    rng = np.random.default_rng(4)
    state = GuardState(profiles={"v1": bundle(rng, 20_000, {"f05": 1.0})})
    guard = Guard()
    outcomes = [guard.observe(state, window(rng, w)) for w in range(5)]
    assert all(o.rollback is None for o in outcomes)
    reference = [
        s
        for s in outcomes[-1].signals
        if s["drift"] and s["drift"]["comparison"] == "reference"
    ]
    assert {s["version"] for s in reference} == {"v1", "v2"}
    drifted = {
        s["drift"]["feature"] for s in reference if s["drift"]["drifted_corrected"]
    }
    assert drifted == {"f05"}
    for signal in reference:
        SIGNAL.decode(SIGNAL.encode(signal))


def test_an_announcement_sets_the_baseline_even_against_traffic() -> None:
    rng = np.random.default_rng(5)
    state = GuardState(
        announcement={
            "model": "ranker",
            "version": "v1",
            "replaces": "v2",
            "started_ms": T0_MS,
            "target_replicas": 40,
            "mode": "rollout",
            "announced_by": "test",
        }
    )
    guard = Guard()
    outcomes = [guard.observe(state, window(rng, w, {"f03": 1.5})) for w in range(3)]
    event = outcomes[-1].rollback
    assert event is not None
    assert (event["from_version"], event["to_version"]) == ("v1", "v2")
    assert event["baseline_rule"] == BASELINE_RULE_ANNOUNCED


def loads_window(index: int, replicas: dict[str, int]) -> ModelWindow:
    rng = np.random.default_rng(index)
    start = T0_MS + index * WINDOW_MS
    return ModelWindow(
        "ranker",
        start,
        start + WINDOW_MS,
        features={v: bundle(rng, 50 * r) for v, r in replicas.items()},
        feature_replicas=dict(replicas),
    )


def test_a_rollout_that_stops_growing_is_reported_stalled() -> None:
    state = GuardState(
        announcement={
            "model": "ranker",
            "version": "v2",
            "replaces": "v1",
            "started_ms": T0_MS,
            "target_replicas": 40,
            "mode": "rollout",
            "announced_by": "test",
        }
    )
    guard = Guard(GuardPolicy(rollout=RolloutPolicy(stall_ms=3 * WINDOW_MS)))
    counts = [2, 4, 6, 6, 6, 6, 6]
    stalled = []
    for index, count in enumerate(counts):
        outcome = guard.observe(
            state, loads_window(index, {"v1": 40 - count, "v2": count})
        )
        version = [s for s in outcome.signals if s["kind"] == "fleet.version"]
        stalled.append(any(s["rollout"]["stalled"] for s in version))
    assert stalled == [False, False, False, False, False, True, True]


def test_after_a_rollback_the_fleet_is_confirmed_converged() -> None:
    rng = np.random.default_rng(6)
    state = GuardState()
    guard = Guard()
    for w in range(3):
        guard.observe(state, window(rng, w, {"f03": 1.5}))
    assert state.rolled_back == {"v2"}
    outcome = guard.observe(state, loads_window(3, {"v1": 40}))
    version = [s for s in outcome.signals if s["kind"] == "fleet.version"]
    assert [(s["version"], s["rollout"]["converged"]) for s in version] == [
        ("v1", True)
    ]


def sample(i: int, numeric: dict, categorical: dict | None = None) -> bytes:
    return FEATURE_SAMPLE.encode(
        {
            "sample_id": str(i),
            "timestamp_ms": T0_MS + i,
            "model": "ranker",
            "version": "v1",
            "replica": f"r{i % 3}",
            "shard": "s00",
            "mode": "primary",
            "numeric": numeric,
            "categorical": categorical or {},
            "prediction": 0.5,
            "prediction_label": None,
        }
    )


def test_feature_windows_count_missing_values_and_late_arriving_features() -> None:
    payloads = [sample(i, {"f00": float(i), "f01": None}) for i in range(10)]
    payloads += [
        sample(10 + i, {"f00": 1.0, "new": 2.0}, {"c0": "a"}) for i in range(10)
    ]
    payloads.append(b"\x00garbage")
    size = len(payloads)
    batch = WindowBatch(
        payloads,
        [b"k"] * size,
        [0] * size,
        list(range(size)),
        [T0_MS] * size,
        "driftline.features",
        "drift.shard-window",
    )
    row = build_feature_window(batch)
    assert (row.n, row.replicas) == (20, 3)
    bundle_ = FeatureSketches.from_bytes(row.bundle)
    assert bundle_.missing_rate("f00") == 0.0
    assert bundle_.missing_rate("f01") == 1.0
    assert bundle_.missing_rate("new") == 0.5
    assert bundle_.missing_rate("c0") == 0.5
    assert bundle_.numeric["prediction"].n == 20
    [letter] = [DEADLETTER.decode(raw) for raw in row.dead_letters]
    assert (letter["reason"], letter["payload"], letter["source_offset"]) == (
        "undecodable",
        b"\x00garbage",
        20,
    )
