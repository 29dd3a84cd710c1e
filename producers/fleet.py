"""The simulated fleet: its layout and its traffic.

Nothing here talks to Kafka or OpenTelemetry; `producers.simulator` turns the
traffic drawn here into real spans. Everything is a pure function of the
`SimulationConfig`, so one seed always gives the same fleet and the same
requests.

Fleet layout (`plan_fleet`):

* replica ``i`` of ``N`` is ``<model>-<i:03d>`` and serves shard ``i % S``,
  named ``s00``, ``s01``, ...;
* ``round(N × candidate_share)`` replicas (at least one) get the candidate
  version at ``rollout_at_s``; they are chosen by the seed, round-robin over
  the shards, so a rollout touches every shard it can; the others stay on
  the baseline version. Before the rollout every replica runs the baseline;
* in ``stalled-rollout``, ``round(N × stall_share)`` replicas are chosen
  the same way and switch one by one, ``rollout_step_s`` apart, starting at
  ``rollout_at_s``; the rest of the fleet never switches;
* in ``tail-regression``, the first ``slow_replicas`` candidates in that
  order are slow, so they sit on different shards whenever
  ``slow_replicas <= S``. ``steady`` has no slow replicas.

Latency model (`draw_traffic`), per request:

* duration_ms is log-normal, ``median_ms × exp(latency_sigma × Z)``; with the
  defaults (40 ms, 0.35) p50 ≈ 40 ms, p99 ≈ 90 ms;
* on a slow replica running the candidate, a ``tail_share`` of requests
  (default 20%) is multiplied by ``tail_factor × U(0.8, 1.2)`` (default
  4–6×): its p99 rises about four-fold while its median moves by ~10%;
* ttft_ms is the final duration times ``U(0.15, 0.35)``;
* a request fails with probability ``error_rate``.

The random draws do not depend on the scenario, so ``steady`` and
``tail-regression`` with one seed send the same requests, except for the
slow tail.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from producers.scenarios import (
    SCENARIOS,
    STEADY,
    TAIL_REGRESSION,
    SimulationConfig,
)

__all__ = [
    "NEVER",
    "SCENARIOS",
    "STEADY",
    "TAIL_REGRESSION",
    "FleetPlan",
    "SimulationConfig",
    "Traffic",
    "draw_traffic",
    "plan_fleet",
]

NEVER = np.iinfo(np.int64).max
"""Switch offset of a replica that stays on the baseline."""

_TTFT_FRACTION_LOW = 0.15
_TTFT_FRACTION_HIGH = 0.35
_TAIL_JITTER = 0.2


@dataclass(frozen=True)
class FleetPlan:
    """Who runs what: fixed by the config's seed before any span is sent.

    Attributes:
        replica_ids: replica ids, by replica index.
        replica_shards: shard id of each replica, by replica index.
        candidate_replicas: replicas that switch to the candidate version.
        slow_replicas: candidate replicas with a slow tail (empty in steady).
        switch_offset_ns: per replica index, ns after the start when it
            switches to the candidate; `NEVER` for a baseline replica.
    """

    replica_ids: tuple[str, ...]
    replica_shards: tuple[str, ...]
    candidate_replicas: tuple[str, ...]
    slow_replicas: tuple[str, ...]
    is_candidate: np.ndarray = field(repr=False, compare=False)
    is_slow: np.ndarray = field(repr=False, compare=False)
    switch_offset_ns: np.ndarray = field(repr=False, compare=False)

    def rollout_ms(self, start_ms: int) -> dict[str, int]:
        """When each candidate replica switches, epoch ms, by replica id."""
        return {
            self.replica_ids[i]: start_ms + int(self.switch_offset_ns[i]) // 1_000_000
            for i in np.flatnonzero(self.is_candidate)
        }

    @property
    def slow_shards(self) -> tuple[str, ...]:
        """Shards that hold a slow replica, sorted."""
        index = {rid: i for i, rid in enumerate(self.replica_ids)}
        return tuple(
            sorted({self.replica_shards[index[r]] for r in self.slow_replicas})
        )

    def shard_of(self, replica_id: str) -> str:
        """The shard a replica serves.

        Raises:
            KeyError: no such replica in this fleet.
        """
        return self.replica_shards[self.replica_ids.index(replica_id)]


def plan_fleet(config: SimulationConfig) -> FleetPlan:
    """Lay out the fleet of ``config``, as the module docstring describes."""
    n, s = config.replicas, config.shards
    rng = np.random.default_rng([config.seed, 1])
    replica_width = max(3, len(str(n - 1)))
    shard_width = max(2, len(str(s - 1)))
    replica_ids = tuple(f"{config.model}-{i:0{replica_width}d}" for i in range(n))
    shard_ids = tuple(f"s{j % s:0{shard_width}d}" for j in range(n))

    per_shard = [rng.permutation(np.arange(j, n, s)).tolist() for j in range(s)]
    shard_order = rng.permutation(s).tolist()
    spread: list[int] = []
    for rank in range(max(len(members) for members in per_shard)):
        spread.extend(
            per_shard[j][rank] for j in shard_order if rank < len(per_shard[j])
        )
    candidates = spread[: config.candidate_replicas]
    slow = (
        candidates[: config.slow_replicas] if config.scenario == TAIL_REGRESSION else []
    )

    is_candidate = np.zeros(n, dtype=bool)
    is_candidate[candidates] = True
    is_slow = np.zeros(n, dtype=bool)
    is_slow[slow] = True
    switch_offset_ns = np.full(n, NEVER, dtype=np.int64)
    for step, index in enumerate(candidates):
        offset_s = config.rollout_offset_s + step * config.rollout_step
        switch_offset_ns[index] = round(offset_s * 1e9)
    return FleetPlan(
        replica_ids=replica_ids,
        replica_shards=shard_ids,
        candidate_replicas=tuple(replica_ids[i] for i in sorted(candidates)),
        slow_replicas=tuple(replica_ids[i] for i in sorted(slow)),
        is_candidate=is_candidate,
        is_slow=is_slow,
        switch_offset_ns=switch_offset_ns,
    )


@dataclass(frozen=True)
class Traffic:
    """One chunk of requests, as parallel arrays (one entry per span)."""

    end_ns: np.ndarray
    duration_ns: np.ndarray
    ttft_s: np.ndarray
    replica: np.ndarray
    on_candidate: np.ndarray
    is_error: np.ndarray


def draw_traffic(
    config: SimulationConfig,
    plan: FleetPlan,
    rng: np.random.Generator,
    first: int,
    count: int,
    start_ns: int,
) -> Traffic:
    """Draw requests ``first`` .. ``first + count - 1`` of a run.

    Request ``i`` ends at ``start_ns + i / rate_per_s`` seconds, so the
    simulated clock advances by ``1 / rate_per_s`` per span. Call it with
    consecutive ranges on one ``rng`` to get a run's traffic in order.

    Returns:
        The chunk; empty arrays when ``count`` is 0.
    """
    index = np.arange(first, first + count, dtype=np.float64)
    end_ns = start_ns + np.floor(index * (1e9 / config.rate_per_s)).astype(np.int64)
    replica = rng.integers(0, config.replicas, size=count)
    normal = rng.standard_normal(count)
    tail_draw = rng.random(count)
    tail_jitter = rng.uniform(1.0 - _TAIL_JITTER, 1.0 + _TAIL_JITTER, size=count)
    ttft_fraction = rng.uniform(_TTFT_FRACTION_LOW, _TTFT_FRACTION_HIGH, size=count)
    error_draw = rng.random(count)

    on_candidate = end_ns - start_ns >= plan.switch_offset_ns[replica]
    duration_ms = config.median_ms * np.exp(config.latency_sigma * normal)
    in_tail = on_candidate & plan.is_slow[replica] & (tail_draw < config.tail_share)
    duration_ms = np.where(
        in_tail, duration_ms * config.tail_factor * tail_jitter, duration_ms
    )
    duration_ns = np.maximum(1, np.round(duration_ms * 1e6)).astype(np.int64)
    return Traffic(
        end_ns=end_ns,
        duration_ns=duration_ns,
        ttft_s=duration_ns * ttft_fraction / 1e9,
        replica=replica,
        on_candidate=on_candidate,
        is_error=error_draw < config.error_rate,
    )
