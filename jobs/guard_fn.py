"""The fleet-merge-and-guard stage as a Flink keyed process function.

Keyed by model, it receives one row per (version, shard) and window from the
hot path, forwards the dead letters the hot path found, buffers a window's
rows in keyed state, and when the watermark passes the window's end (an
event-time timer) merges them into fleet windows (`jobs.fleet`), runs the `Guard`, and emits encoded signals and rollback
events. Volume here is one record per shard per window, so per-record Python
is affordable; the guard state lives in Flink state and is checkpointed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from pyflink.common import Row
from pyflink.common.typeinfo import Types
from pyflink.datastream import KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import MapStateDescriptor, ValueStateDescriptor

from jobs.fleet import ShardWindow, merge_fleet
from jobs.guard import Guard, GuardState, LatencyPolicy
from schemas import ROLLBACK, SIGNAL

log = logging.getLogger(__name__)

ROUTE_SIGNAL = "signal"
ROUTE_ROLLBACK = "rollback"
ROUTE_DEADLETTER = "deadletter"

#: Output rows: which topic, the Kafka key, the Avro value.
OUTPUT_TYPE = Types.ROW_NAMED(
    ["route", "k", "v"],
    [
        Types.STRING(),
        Types.PRIMITIVE_ARRAY(Types.BYTE()),
        Types.PRIMITIVE_ARRAY(Types.BYTE()),
    ],
)


class FleetGuardFunction(KeyedProcessFunction):
    """Buffers shard windows per model and runs the guard on closed windows."""

    def __init__(self, policy: LatencyPolicy, window_ms: int) -> None:
        self.policy = policy
        self.window_ms = window_ms

    def open(self, runtime_context: RuntimeContext) -> None:
        self.guard = Guard(self.policy)
        self.pending = runtime_context.get_map_state(
            MapStateDescriptor("pending", Types.LONG(), Types.PICKLED_BYTE_ARRAY())
        )
        self.state = runtime_context.get_state(
            ValueStateDescriptor("guard", Types.PICKLED_BYTE_ARRAY())
        )

    def process_element(
        self, value: Row, ctx: KeyedProcessFunction.Context
    ) -> Iterator[Row]:
        window_end_ms = int(ctx.timestamp()) + 1
        shard = ShardWindow(
            model=value.model,
            version=value.version,
            shard=value.shard,
            window_start_ms=window_end_ms - self.window_ms,
            window_end_ms=window_end_ms,
            n=int(value.n),
            n_error=int(value.n_error),
            replicas=int(value.replicas),
            sketch=bytes(value.sketch),
            ttft_sketch=bytes(value.ttft_sketch or b""),
        )
        rows = self.pending.get(shard.window_end_ms) or []
        if not rows:
            ctx.timer_service().register_event_time_timer(shard.window_end_ms - 1)
        rows.append(shard)
        self.pending.put(shard.window_end_ms, rows)
        letters = value.dead_letters or []
        if letters:
            log.warning(
                "dead letters from shard window model=%s version=%s shard=%s "
                "window_end_ms=%d count=%d",
                shard.model,
                shard.version,
                shard.shard,
                window_end_ms,
                len(letters),
            )
        return (Row(ROUTE_DEADLETTER, b"", bytes(letter)) for letter in letters)

    def on_timer(
        self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext
    ) -> Iterator[Row]:
        window_end_ms = timestamp + 1
        rows = self.pending.get(window_end_ms) or []
        self.pending.remove(window_end_ms)
        state = self.state.value() or GuardState()
        outcome = self.guard.observe(state, merge_fleet(rows))
        self.state.update(state)
        key = ctx.get_current_key().encode()
        log.debug(
            "guard closed window model=%s window_end_ms=%d shards=%d signals=%d",
            ctx.get_current_key(),
            window_end_ms,
            len(rows),
            len(outcome.signals),
        )
        for signal in outcome.signals:
            yield Row(ROUTE_SIGNAL, key, SIGNAL.encode(signal))
        if outcome.rollback is not None:
            yield Row(ROUTE_ROLLBACK, key, ROLLBACK.encode(outcome.rollback))
