"""What runs inside a serving replica, and the simulator that stands in for a
fleet of them.

Contract: this package imports only the OpenTelemetry SDK, confluent-kafka,
numpy, `schemas` and `driftline.errors`. It never imports Flink, ClickHouse,
`jobs`, `sinks` or `infra`, since it is loaded into serving processes.

* `KafkaSpanExporter`: an OTel ``SpanExporter`` that writes inference spans
  to ``driftline.spans`` without ever blocking the serving thread.
* `span_record`: the span → ``Span`` record mapping the exporter applies.
* `SimulationConfig`, `plan_fleet`, `run`, `SimulationReport`: a seeded fleet
  of virtual replicas, emitting real spans through the exporter.
"""

from producers.exporter import DEFAULT_TOPIC, KafkaSpanExporter
from producers.fleet import (
    SCENARIOS,
    STEADY,
    TAIL_REGRESSION,
    FleetPlan,
    SimulationConfig,
    plan_fleet,
)
from producers.mapping import span_record
from producers.simulator import SimulationReport, run

__all__ = [
    "DEFAULT_TOPIC",
    "SCENARIOS",
    "STEADY",
    "TAIL_REGRESSION",
    "FleetPlan",
    "KafkaSpanExporter",
    "SimulationConfig",
    "SimulationReport",
    "plan_fleet",
    "run",
    "span_record",
]
