"""The guard's policy state machine, on sketches built from seeded samples."""

from __future__ import annotations

import numpy as np
import pytest

from driftline.errors import ConfigError
from jobs.fleet import ShardWindow, merge_fleet
from jobs.guard import Guard, GuardPolicy, GuardState, ModelWindow, event_id
from jobs.latency_policy import LatencyPolicy
from schemas import ROLLBACK, SIGNAL
from sketches import NumericSketch

WINDOW_MS = 10_000
T0_MS = 1_800_000_000_000


def shard_window(
    rng: np.random.Generator,
    version: str,
    shard: str,
    window: int,
    n: int,
    slow_share: float = 0.0,
) -> ShardWindow:
    durations = rng.lognormal(np.log(40.0), 0.35, n)
    slow = rng.random(n) < slow_share
    durations[slow] *= 5.0
    sketch = NumericSketch()
    sketch.update(durations)
    start = T0_MS + window * WINDOW_MS
    return ShardWindow(
        "ranker", version, shard, start, start + WINDOW_MS, n, 0, 2, sketch.to_bytes()
    )


def window_rows(
    rng: np.random.Generator,
    window: int,
    *,
    candidate_n: int = 500,
    slow_shards: tuple[str, ...] = (),
    slow_share: float = 0.2,
) -> dict:
    rows = [shard_window(rng, "v1", f"s{i:02d}", window, 1500) for i in range(4)]
    rows += [
        shard_window(
            rng,
            "v2",
            f"s{i:02d}",
            window,
            candidate_n,
            slow_share if f"s{i:02d}" in slow_shards else 0.0,
        )
        for i in range(4)
    ]
    return as_window(merge_fleet(rows))


def as_window(fleet: dict) -> ModelWindow:
    first = next(iter(fleet.values()), None)
    start = first.window_start_ms if first else T0_MS
    return ModelWindow("ranker", start, start + WINDOW_MS, latency=fleet)


def run_windows(guard: Guard, state: GuardState, windows: list[dict]) -> list:
    return [guard.observe(state, fleet) for fleet in windows]


def test_a_healthy_candidate_never_triggers_a_rollback() -> None:
    rng = np.random.default_rng(1)
    outcomes = run_windows(
        Guard(), GuardState(), [window_rows(rng, w) for w in range(30)]
    )
    assert all(o.rollback is None for o in outcomes)
    assert not any(
        s["latency"]["breach"] for o in outcomes for s in o.signals if s["latency"]
    )


def test_a_slow_shard_rolls_back_after_the_configured_consecutive_windows() -> None:
    rng = np.random.default_rng(2)
    guard = Guard(GuardPolicy(breach_windows=3))
    state = GuardState()
    outcomes = run_windows(
        guard, state, [window_rows(rng, w, slow_shards=("s02",)) for w in range(5)]
    )
    decided = [i for i, o in enumerate(outcomes) if o.rollback is not None]
    assert decided == [2]
    event = outcomes[2].rollback
    assert (event["model"], event["from_version"], event["to_version"]) == (
        "ranker",
        "v2",
        "v1",
    )
    shards = {e["shard"] for e in event["evidence"] if e["shard"]}
    assert shards == {"s02"}
    assert event["event_id"] == event_id("ranker", "v2", T0_MS)
    ROLLBACK.decode(ROLLBACK.encode(event))
    for signal in outcomes[2].signals:
        SIGNAL.decode(SIGNAL.encode(signal))


def test_windows_below_the_minimum_sample_count_neither_count_nor_reset() -> None:
    rng = np.random.default_rng(3)
    guard = Guard(GuardPolicy(breach_windows=2, latency=LatencyPolicy(min_samples=400)))
    state = GuardState()
    windows = [
        window_rows(rng, 0, slow_shards=("s01",)),
        window_rows(rng, 1, candidate_n=20, slow_shards=("s01",)),
        window_rows(rng, 2, slow_shards=("s01",)),
    ]
    outcomes = run_windows(guard, state, windows)
    assert [o.rollback is not None for o in outcomes] == [False, False, True]


def test_a_clear_window_resets_the_streak() -> None:
    rng = np.random.default_rng(4)
    guard = Guard(GuardPolicy(breach_windows=2))
    windows = [
        window_rows(rng, 0, slow_shards=("s01",)),
        window_rows(rng, 1),
        window_rows(rng, 2, slow_shards=("s01",)),
    ]
    outcomes = run_windows(guard, GuardState(), windows)
    assert all(o.rollback is None for o in outcomes)


def test_an_incident_yields_one_event_and_cooldown_holds_the_next_version() -> None:
    rng = np.random.default_rng(5)
    guard = Guard(GuardPolicy(breach_windows=2, cooldown_ms=10 * WINDOW_MS))
    state = GuardState()
    outcomes = run_windows(
        guard, state, [window_rows(rng, w, slow_shards=("s00",)) for w in range(6)]
    )
    assert sum(o.rollback is not None for o in outcomes) == 1

    # A third version going bad inside the cooldown is held back.
    rows = []
    for w in range(6, 9):
        window = window_rows(rng, w, slow_shards=("s00",))
        window.latency["v3"] = window.latency.pop("v2")
        window.latency["v3"].version = "v3"
        rows.append(window)
    later = run_windows(guard, state, rows)
    assert all(o.rollback is None for o in later)


def test_replaying_the_same_windows_yields_the_same_event_id() -> None:
    windows = [
        window_rows(np.random.default_rng(6 + w), w, slow_shards=("s03",))
        for w in range(4)
    ]
    first = [
        o.rollback for o in run_windows(Guard(), GuardState(), windows) if o.rollback
    ]
    again = [
        o.rollback for o in run_windows(Guard(), GuardState(), windows) if o.rollback
    ]
    assert len(first) == 1
    assert first == again


def test_the_baseline_is_the_version_with_the_most_traffic() -> None:
    rng = np.random.default_rng(7)
    state = GuardState()
    outcome = Guard().observe(state, window_rows(rng, 0))
    roles = {
        s["version"]: s["role"] for s in outcome.signals if s["kind"] == "latency.fleet"
    }
    assert roles == {"v1": "baseline", "v2": "candidate"}


def test_a_single_version_fleet_reports_without_comparing() -> None:
    rng = np.random.default_rng(8)
    fleet = merge_fleet([shard_window(rng, "v1", "s00", 0, 300)])
    outcome = Guard().observe(GuardState(), as_window(fleet))
    assert outcome.rollback is None
    latency = [s for s in outcome.signals if s["latency"]]
    assert [s["role"] for s in latency] == ["baseline", "baseline"]
    assert latency[0]["latency"]["p99_ratio"] is None


def test_an_empty_window_produces_nothing() -> None:
    assert Guard().observe(GuardState(), as_window({})).signals == []


@pytest.mark.parametrize(
    "make",
    [
        lambda: LatencyPolicy(clear_ratio=2.0, p99_ratio=1.5),
        lambda: LatencyPolicy(shard_p99_ratio=1.0),
        lambda: GuardPolicy(breach_windows=0),
    ],
)
def test_inconsistent_policies_are_refused(make) -> None:
    with pytest.raises(ConfigError):
        make()
