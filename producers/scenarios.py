"""What a simulation does: the scenarios and their configuration.

`SimulationConfig` is everything a run of `producers.simulator.run` depends
on; it validates itself on construction and names the ``driftline simulate``
flag of a bad value. `producers.fleet` lays the fleet out from it and
`producers.feature_stream` draws its feature samples.

Every scenario sends spans from every replica (healthy unless said below) and,
where the table says so, feature samples. "Candidate" is the candidate version
on the candidate replicas after they switch; everything else is the baseline.
Defaults: 40 replicas on 4 shards, 25% of them candidates switching at 20% of
the run, 20 numeric + 3 categorical features plus ``prediction``.

=================  ==================================  ========================
scenario           what is planted                     should trigger / not
=================  ==================================  ========================
steady             nothing; features only with         nothing
                   ``features=True``
tail-regression    3 slow candidate replicas: 20% of   latency regression on
                   their requests 4–6× slower          their shards; no drift
no-drift           a candidate rollout with the same   no drift, no rollback,
                   feature distributions               however long the run
feature-drift      candidate ``drift_features``        drift of exactly
                   (default ``f03``, ``f11``) shifted  {f03, f11}; no latency
                   by ``drift_shift_sigma`` (1.0) sd   regression
                   from the rollout on
categorical-drift  candidate ``c1``: ``drift_mass``    drift of exactly {c1};
                   (0.25) of its mass moved to its     no latency regression
                   rarest category
gradual-drift      as feature-drift, but the shift     drift of {f03, f11}
                   grows linearly from 0 at the        once the shift is large
                   rollout to ``drift_shift_sigma``    enough, not at the
                   at the end of the run               rollout
stalled-rollout    replicas switch one by one, every   a stalled rollout
                   ``rollout_step_s``, and stop at     (candidate on 30% of an
                   ``stall_share`` (30%) of the fleet  announced 100%); no
                   while the announcement targets all  drift, no latency
                   of it                               regression
=================  ==================================  ========================

The prediction depends only on ``f00``, ``f01``, ``f02``, ``f05`` and ``c0``
(`producers.feature_model`), so the default planted sets are exactly the
features above; planting drift in one of those also makes ``prediction``
drift, and `SimulationConfig.planted_features` then lists it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from driftline.errors import ConfigError
from producers.feature_model import (
    PREDICTION,
    PREDICTION_CATEGORICAL_INPUT,
    PREDICTION_INPUTS,
)

STEADY = "steady"
TAIL_REGRESSION = "tail-regression"
NO_DRIFT = "no-drift"
FEATURE_DRIFT = "feature-drift"
CATEGORICAL_DRIFT = "categorical-drift"
GRADUAL_DRIFT = "gradual-drift"
STALLED_ROLLOUT = "stalled-rollout"
FEATURE_SCENARIOS = (
    NO_DRIFT,
    FEATURE_DRIFT,
    CATEGORICAL_DRIFT,
    GRADUAL_DRIFT,
    STALLED_ROLLOUT,
)
"""Scenarios about features and rollouts; they always emit feature samples."""
DRIFT_SCENARIOS = (FEATURE_DRIFT, CATEGORICAL_DRIFT, GRADUAL_DRIFT)
SCENARIOS = (STEADY, TAIL_REGRESSION, *FEATURE_SCENARIOS)

DEFAULT_DRIFT_FEATURES = {
    FEATURE_DRIFT: ("f03", "f11"),
    GRADUAL_DRIFT: ("f03", "f11"),
    CATEGORICAL_DRIFT: ("c1",),
}


# Flags of `driftline simulate` for the fields it exposes; the other fields
# are named by their own name in error messages.
_FLAGS = {
    "rate_per_s": "--rate",
    "duration_s": "--duration",
    "feature_rate_per_s": "--feature-rate",
}


def _flag(name: str) -> str:
    return _FLAGS.get(name, "--" + name.replace("_", "-"))


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate. Validated on construction.

    Attributes:
        scenario: one of `SCENARIOS` (see `producers.simulator`).
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
        features: also emit feature samples; always on for the feature
            scenarios (`FEATURE_SCENARIOS`).
        feature_rate_per_s: feature samples per second across the fleet, in
            simulated time; None means ``rate_per_s`` (every request logged).
        numeric_features: numeric features ``f00`` ..
        categorical_features: categorical features ``c0`` ..
        drift_features: features that drift in a drift scenario; None means
            the scenario's default (`DEFAULT_DRIFT_FEATURES`).
        drift_shift_sigma: mean shift of a drifting numeric feature, in its
            own standard deviations (the final shift in ``gradual-drift``).
        drift_mass: probability mass a drifting categorical feature moves to
            its rarest category (the final mass in ``gradual-drift``).
        missing_share: probability that any one input value is missing, for
            every replica and version alike.
        stall_share: share of the fleet a ``stalled-rollout`` reaches before
            it stops; the announcement targets the whole fleet.
        rollout_step_s: seconds between two replicas switching in a
            ``stalled-rollout``; None spreads the switches over the first half
            of the time after ``rollout_at_s``.
        announce: announce the rollout on the deployments topic at the
            rollout time (`producers.deployments.announce`).

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
    features: bool = False
    feature_rate_per_s: float | None = None
    numeric_features: int = 20
    categorical_features: int = 3
    drift_features: tuple[str, ...] | None = None
    drift_shift_sigma: float = 1.0
    drift_mass: float = 0.25
    missing_share: float = 0.0
    stall_share: float = 0.3
    rollout_step_s: float | None = None
    announce: bool = False

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
        self._check_features()
        if self.scenario == TAIL_REGRESSION:
            if self.slow_replicas < 1:
                self._fail("slow_replicas", f"must be at least 1 for {TAIL_REGRESSION}")
            if self.slow_replicas > self.candidate_replicas:
                self._fail(
                    "slow_replicas",
                    f"must not exceed the {self.candidate_replicas} candidate "
                    "replicas (raise --replicas or --candidate-share)",
                )

    def _check_features(self) -> None:
        if self.feature_rate_per_s is not None and not (
            math.isfinite(self.feature_rate_per_s) and self.feature_rate_per_s > 0
        ):
            self._fail("feature_rate_per_s", "must be a positive number")
        if not 1 <= self.numeric_features <= 100:
            self._fail("numeric_features", "must be in [1, 100]")
        if not 0 <= self.categorical_features <= 26:
            self._fail("categorical_features", "must be in [0, 26]")
        if not math.isfinite(self.drift_shift_sigma):
            self._fail("drift_shift_sigma", "must be a finite number")
        if not 0.0 <= self.drift_mass <= 1.0:
            self._fail("drift_mass", "must be in [0, 1]")
        if not 0.0 <= self.missing_share < 1.0:
            self._fail("missing_share", "must be in [0, 1)")
        if not 0.0 < self.stall_share < 1.0:
            self._fail("stall_share", "must be between 0 and 1")
        if self.rollout_step_s is not None and not (
            math.isfinite(self.rollout_step_s) and self.rollout_step_s >= 0
        ):
            self._fail("rollout_step_s", "must not be negative")
        if self.drift_features is not None:
            if isinstance(self.drift_features, str):
                self._fail("drift_features", "must be a sequence of feature names")
            object.__setattr__(self, "drift_features", tuple(self.drift_features))
        known = {f"f{i:02d}" for i in range(self.numeric_features)}
        known |= {f"c{j}" for j in range(self.categorical_features)}
        unknown = sorted(set(self.planted_inputs) - known)
        if unknown:
            self._fail(
                "drift_features",
                f"must name input features (f00.., c0..); {unknown!r} is not one",
            )
        if self.scenario in DRIFT_SCENARIOS and not self.planted_inputs:
            self._fail("drift_features", f"must name a feature for {self.scenario}")

    def _fail(self, name: str, constraint: str) -> None:
        value = getattr(self, name)
        raise ConfigError(f"{_flag(name)} {constraint}, got {value!r}")

    @property
    def candidate_replicas(self) -> int:
        """How many replicas get the candidate version (at least one); in a
        ``stalled-rollout``, how many it reaches before it stalls."""
        share = (
            self.stall_share
            if self.scenario == STALLED_ROLLOUT
            else (self.candidate_share)
        )
        return max(1, round(self.replicas * share))

    @property
    def target_replicas(self) -> int:
        """Replicas the rollout announcement targets: the candidates, or the
        whole fleet for a ``stalled-rollout``."""
        if self.scenario == STALLED_ROLLOUT:
            return self.replicas
        return self.candidate_replicas

    @property
    def emits_features(self) -> bool:
        """Whether a run sends feature samples."""
        return self.features or self.scenario in FEATURE_SCENARIOS

    @property
    def feature_rate(self) -> float:
        """Feature samples per second across the fleet."""
        if self.feature_rate_per_s is None:
            return self.rate_per_s
        return self.feature_rate_per_s

    @property
    def total_feature_samples(self) -> int:
        """Feature samples a full run emits (0 without features)."""
        if not self.emits_features:
            return 0
        return round(self.feature_rate * self.duration_s)

    @property
    def planted_inputs(self) -> tuple[str, ...]:
        """Input features the scenario makes drift on the candidate; empty
        outside the drift scenarios."""
        if self.scenario not in DRIFT_SCENARIOS:
            return ()
        if self.drift_features is not None:
            return tuple(self.drift_features)
        return DEFAULT_DRIFT_FEATURES[self.scenario]

    @property
    def planted_features(self) -> tuple[str, ...]:
        """Features whose candidate distribution differs from the baseline's:
        the planted inputs, plus ``prediction`` when one of them is among
        `producers.feature_model.PREDICTION_INPUTS` (or is ``c0``)."""
        inputs = self.planted_inputs
        if set(inputs) & {*PREDICTION_INPUTS, PREDICTION_CATEGORICAL_INPUT}:
            return (*inputs, PREDICTION)
        return inputs

    @property
    def rollout_step(self) -> float:
        """Seconds between two replicas switching (0: all at once)."""
        if self.scenario != STALLED_ROLLOUT:
            return 0.0
        if self.rollout_step_s is not None:
            return self.rollout_step_s
        after_s = self.duration_s - self.rollout_offset_s
        return after_s / (2 * self.candidate_replicas)

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
