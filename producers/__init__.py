"""What runs inside a serving replica, and the simulator that stands in for a
fleet of them.

Contract: this package imports only the OpenTelemetry SDK, confluent-kafka,
numpy, `schemas` and `driftline.errors` (pandas only inside the data-frame
helpers). It never imports Flink, ClickHouse, `jobs`, `sinks` or `infra`,
since it is loaded into serving processes.

* `KafkaSpanExporter`: an OTel ``SpanExporter`` that writes inference spans
  to ``driftline.spans`` without ever blocking the serving thread.
* `span_record`: the span → ``Span`` record mapping the exporter applies.
* `FeatureLogger`: sampled request features to ``driftline.features``,
  without ever blocking the request path.
* `announce`: a rollout announcement on ``driftline.deployments``.
* `SimulationConfig`, `plan_fleet`, `run`, `SimulationReport`: a seeded fleet
  of virtual replicas, emitting real spans through the exporter and real
  feature samples through feature loggers; the scenarios are tabled in
  `producers.scenarios`.
* `reference_frame`, `feature_frame`: the simulated features as data frames,
  without Kafka: a training-like reference set, and what a run sends.
"""

from producers.deployments import AnnouncementError, announce
from producers.exporter import DEFAULT_TOPIC, KafkaSpanExporter
from producers.feature_model import PREDICTION_INPUTS, reference_frame
from producers.feature_stream import feature_frame
from producers.features import FeatureLogger
from producers.fleet import FleetPlan, plan_fleet
from producers.mapping import span_record
from producers.scenarios import (
    CATEGORICAL_DRIFT,
    DRIFT_SCENARIOS,
    FEATURE_DRIFT,
    FEATURE_SCENARIOS,
    GRADUAL_DRIFT,
    NO_DRIFT,
    SCENARIOS,
    STALLED_ROLLOUT,
    STEADY,
    TAIL_REGRESSION,
    SimulationConfig,
)
from producers.simulator import SimulationReport, run

__all__ = [
    "CATEGORICAL_DRIFT",
    "DEFAULT_TOPIC",
    "DRIFT_SCENARIOS",
    "FEATURE_DRIFT",
    "FEATURE_SCENARIOS",
    "GRADUAL_DRIFT",
    "NO_DRIFT",
    "PREDICTION_INPUTS",
    "SCENARIOS",
    "STALLED_ROLLOUT",
    "STEADY",
    "TAIL_REGRESSION",
    "AnnouncementError",
    "FeatureLogger",
    "FleetPlan",
    "KafkaSpanExporter",
    "SimulationConfig",
    "SimulationReport",
    "announce",
    "feature_frame",
    "plan_fleet",
    "reference_frame",
    "run",
    "span_record",
]
