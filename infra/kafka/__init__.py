"""Kafka for driftline: a local single-node broker and the admin calls on top.

`LocalKafka` runs a Kafka 4 broker (KRaft) as a java process owned by a home
folder; `create_topics` and `broker_answers` work against any bootstrap. The
topic catalogue itself lives in `infra.topics`.
"""

from infra.kafka.admin import admin_client, broker_answers, create_topics
from infra.kafka.broker import BrokerStatus, LocalKafka
from infra.topics import TopicSpec

__all__ = [
    "BrokerStatus",
    "LocalKafka",
    "TopicSpec",
    "admin_client",
    "broker_answers",
    "create_topics",
]
