"""The simulated fleet: its configuration, its layout and its traffic.

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

import math
from dataclasses import dataclass, field

import numpy as np

from driftline.errors import ConfigError

STEADY = "steady"
TAIL_REGRESSION = "tail-regression"
SCENARIOS = (STEADY, TAIL_REGRESSION)

_TTFT_FRACTION_LOW = 0.15
_TTFT_FRACTION_HIGH = 0.35
_TAIL_JITTER = 0.2

# Flags of `driftline simulate` for the fields it exposes; the other fields
# are named by their own name in error messages.
_FLAGS = {
    "rate_per_s": "--rate",
    "duration_s": "--duration",
}


def _flag(name: str) -> str:
    return _FLAGS.get(name, "--" + name.replace("_", "-"))


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate. Validated on construction.

    Attributes:
        scenario: ``steady`` or ``tail-regression``.
        model: model name on every span.
        baseline_version: version every replica runs before the rollout.
        candidate_version: version the candidate replicas switch to.
        replicas: virtual replicas in the fleet.
        shards: shards; replica ``i`` serves shard ``i % shards``.
        rate_per_s: spans per second across the fleet, in simulated time.
        duration_s: simulated seconds to run.
        seed: seeds the fleet layout, the traffic and the trace ids.
        candidate_share: share of replicas that get the candidate.
        rollout_at_s: simulated seconds after start when the candidates
            switch; None means 20% of ``duration_s``.
        slow_replicas: candidate replicas with a slow tail in
            ``tail-regression``; ignored by ``steady``.
        tail_share: share of a slow replica's requests in the slow tail.
        tail_factor: mean slowdown of a tail request.
        median_ms: median request duration.
        latency_sigma: log-normal shape; p99/p50 = exp(2.326 × sigma).
        error_rate: probability that a request fails.
        start_ms: simulated start, epoch ms; None means now, taken by `run`.
        realtime: pace emission to the wall clock (demo, CLI) instead of
            emitting as fast as possible (tests, backfills).

    Raises:
        ConfigError: a value is out of range; the message names its flag.
    """

    scenario: str = STEADY
    model: str = "ranker"
    baseline_version: str = "v1"
    candidate_version: str = "v2"
    replicas: int = 40
    shards: int = 4
    rate_per_s: float = 1000.0
    duration_s: float = 60.0
    seed: int = 0
    candidate_share: float = 0.25
    rollout_at_s: float | None = None
    slow_replicas: int = 3
    tail_share: float = 0.2
    tail_factor: float = 5.0
    median_ms: float = 40.0
    latency_sigma: float = 0.35
    error_rate: float = 0.002
    start_ms: int | None = None
    realtime: bool = False

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            self._fail("scenario", f"must be one of {', '.join(SCENARIOS)}")
        for name in ("model", "baseline_version", "candidate_version"):
            if not getattr(self, name):
                self._fail(name, "must not be empty")
        if self.baseline_version == self.candidate_version:
            self._fail("candidate_version", "must differ from --baseline-version")
        for name in ("replicas", "shards"):
            if getattr(self, name) < 1:
                self._fail(name, "must be at least 1")
        if self.shards > self.replicas:
            self._fail("shards", f"must not exceed --replicas ({self.replicas})")
        for name in ("rate_per_s", "duration_s", "median_ms"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                self._fail(name, "must be a positive number")
        if self.seed < 0:
            self._fail("seed", "must not be negative")
        if not 0.0 < self.candidate_share <= 1.0:
            self._fail("candidate_share", "must be above 0 and at most 1")
        if self.rollout_at_s is not None and not (
            0.0 <= self.rollout_at_s < self.duration_s
        ):
            self._fail("rollout_at_s", f"must be in [0, --duration={self.duration_s})")
        if not 0.0 < self.tail_share < 1.0:
            self._fail("tail_share", "must be between 0 and 1")
        if not (math.isfinite(self.tail_factor) and self.tail_factor > 1.0):
            self._fail("tail_factor", "must be above 1")
        if not (math.isfinite(self.latency_sigma) and self.latency_sigma >= 0.0):
            self._fail("latency_sigma", "must not be negative")
        if not 0.0 <= self.error_rate < 1.0:
            self._fail("error_rate", "must be in [0, 1)")
        if self.start_ms is not None and self.start_ms < 0:
            self._fail("start_ms", "must not be negative")
        if self.slow_replicas < 0:
            self._fail("slow_replicas", "must not be negative")
        if self.scenario == TAIL_REGRESSION:
            if self.slow_replicas < 1:
                self._fail("slow_replicas", f"must be at least 1 for {TAIL_REGRESSION}")
            if self.slow_replicas > self.candidate_replicas:
                self._fail(
                    "slow_replicas",
                    f"must not exceed the {self.candidate_replicas} candidate "
                    "replicas (raise --replicas or --candidate-share)",
                )

    def _fail(self, name: str, constraint: str) -> None:
        value = getattr(self, name)
        raise ConfigError(f"{_flag(name)} {constraint}, got {value!r}")

    @property
    def candidate_replicas(self) -> int:
        """How many replicas get the candidate version (at least one)."""
        return max(1, round(self.replicas * self.candidate_share))

    @property
    def rollout_offset_s(self) -> float:
        """Simulated seconds from start to the rollout."""
        if self.rollout_at_s is None:
            return 0.2 * self.duration_s
        return self.rollout_at_s

    @property
    def total_spans(self) -> int:
        """Spans a full run emits: ``round(rate_per_s × duration_s)``."""
        return round(self.rate_per_s * self.duration_s)


@dataclass(frozen=True)
class FleetPlan:
    """Who runs what: fixed by the config's seed before any span is sent.

    Attributes:
        replica_ids: replica ids, by replica index.
        replica_shards: shard id of each replica, by replica index.
        candidate_replicas: replicas that switch to the candidate version.
        slow_replicas: candidate replicas with a slow tail (empty in steady).
    """

    replica_ids: tuple[str, ...]
    replica_shards: tuple[str, ...]
    candidate_replicas: tuple[str, ...]
    slow_replicas: tuple[str, ...]
    is_candidate: np.ndarray = field(repr=False, compare=False)
    is_slow: np.ndarray = field(repr=False, compare=False)

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
    return FleetPlan(
        replica_ids=replica_ids,
        replica_shards=shard_ids,
        candidate_replicas=tuple(replica_ids[i] for i in sorted(candidates)),
        slow_replicas=tuple(replica_ids[i] for i in sorted(slow)),
        is_candidate=is_candidate,
        is_slow=is_slow,
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

    rollout_ns = start_ns + round(config.rollout_offset_s * 1e9)
    on_candidate = plan.is_candidate[replica] & (end_ns >= rollout_ns)
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
