"""The fleet-merge-and-guard stage as a Flink keyed co-process function.

Keyed by model, input 1 carries one row per (kind, version, shard) and window
from the hot paths (``latency`` rows hold a duration sketch, ``features``
rows a `FeatureSketches` bundle) together with the dead letters those windows
found, which are forwarded at once. Rows are buffered per window in keyed
state; when the watermark passes a window's end (an event-time timer) they
are merged into fleet windows, the `Guard` runs, and encoded signals and
rollback events are emitted.

Input 2 carries the control topics: rollout announcements and reference
profiles, applied to the model's guard state as they arrive, so a new profile
or rollout is picked up without a restart.

Volume here is one record per shard per window plus rare control records, so
per-record Python is affordable; all state is Flink state and is checkpointed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from pyflink.common import Row
from pyflink.common.typeinfo import Types
from pyflink.datastream import KeyedCoProcessFunction, RuntimeContext
from pyflink.datastream.state import MapStateDescriptor, ValueStateDescriptor

from jobs.feature_window import FeatureSketches
from jobs.fleet import ShardWindow, merge_fleet
from jobs.guard import Guard, GuardPolicy, GuardState, ModelWindow
from schemas import DEPLOYMENT, PROFILE, ROLLBACK, SIGNAL
from sketches import CategoricalSketch, NumericSketch, warm_up

log = logging.getLogger(__name__)

ROUTE_SIGNAL = "signal"
ROUTE_ROLLBACK = "rollback"
ROUTE_DEADLETTER = "deadletter"
KIND_LATENCY = "latency"
KIND_FEATURES = "features"
CONTROL_DEPLOYMENT = "deployment"
CONTROL_PROFILE = "profile"

#: Output rows: which topic, the Kafka key, the Avro value.
OUTPUT_TYPE = Types.ROW_NAMED(
    ["route", "k", "v"],
    [
        Types.STRING(),
        Types.PRIMITIVE_ARRAY(Types.BYTE()),
        Types.PRIMITIVE_ARRAY(Types.BYTE()),
    ],
)
#: Control rows after decoding the key: the model, which topic, the value.
CONTROL_TYPE = Types.ROW_NAMED(
    ["model", "route", "v"],
    [Types.STRING(), Types.STRING(), Types.PRIMITIVE_ARRAY(Types.BYTE())],
)


def control_model(route: str, value: bytes) -> Row:
    """Decode a control record just enough to key it by model; the row is
    positional, ``(model, route, value)``."""
    codec = DEPLOYMENT if route == CONTROL_DEPLOYMENT else PROFILE
    return Row(codec.decode(bytes(value))["model"], route, bytes(value))


class FleetGuardFunction(KeyedCoProcessFunction):
    """Buffers shard windows per model and runs the guard on closed windows."""

    def __init__(self, policy: GuardPolicy, window_ms: int) -> None:
        self.policy = policy
        self.window_ms = window_ms

    def open(self, runtime_context: RuntimeContext) -> None:
        warm_up()  # compile the drift kernels once, not inside the first window
        self.guard = Guard(self.policy)
        self.pending = runtime_context.get_map_state(
            MapStateDescriptor("pending", Types.LONG(), Types.PICKLED_BYTE_ARRAY())
        )
        self.state = runtime_context.get_state(
            ValueStateDescriptor("guard", Types.PICKLED_BYTE_ARRAY())
        )

    def process_element1(self, value: Row, ctx: Any) -> Iterator[Row]:
        window_end_ms = int(ctx.timestamp()) + 1
        rows = self.pending.get(window_end_ms) or []
        if not rows:
            ctx.timer_service().register_event_time_timer(window_end_ms - 1)
        rows.append(
            (
                value.kind,
                value.version,
                value.shard,
                int(value.n),
                int(value.n_error),
                int(value.replicas),
                bytes(value.sketch),
                bytes(value.extra or b""),
            )
        )
        self.pending.put(window_end_ms, rows)
        letters = value.dead_letters or []
        if letters:
            log.warning(
                "dead letters from shard window kind=%s model=%s version=%s "
                "shard=%s window_end_ms=%d count=%d",
                value.kind,
                value.model,
                value.version,
                value.shard,
                window_end_ms,
                len(letters),
            )
        return (Row(ROUTE_DEADLETTER, b"", bytes(letter)) for letter in letters)

    def process_element2(self, value: Row, ctx: Any) -> Iterator[Row]:
        # Control rows are positional: (model, route, value).
        _, route, payload = value
        state = self.state.value() or GuardState()
        if route == CONTROL_DEPLOYMENT:
            announcement = DEPLOYMENT.decode(bytes(payload))
            current = state.announcement
            if current is None or announcement["started_ms"] >= current["started_ms"]:
                state.announcement = announcement
                log.info(
                    "rollout announced model=%s version=%s replaces=%s target=%d",
                    announcement["model"],
                    announcement["version"],
                    announcement["replaces"],
                    announcement["target_replicas"],
                )
        else:
            profile = PROFILE.decode(bytes(payload))
            state.profiles[profile["version"]] = FeatureSketches(
                n=int(profile["n"]),
                numeric={
                    k: NumericSketch.from_bytes(v)
                    for k, v in profile["numeric"].items()
                },
                categorical={
                    k: CategoricalSketch.from_bytes(v)
                    for k, v in profile["categorical"].items()
                },
            )
            log.info(
                "reference profile loaded model=%s version=%s profile_id=%s",
                profile["model"],
                profile["version"],
                profile["profile_id"],
            )
        self.state.update(state)
        return iter(())

    def on_timer(self, timestamp: int, ctx: Any) -> Iterator[Row]:
        window_end_ms = timestamp + 1
        rows = self.pending.get(window_end_ms) or []
        self.pending.remove(window_end_ms)
        model = ctx.get_current_key()
        window = self._model_window(model, window_end_ms, rows)
        state = self.state.value() or GuardState()
        outcome = self.guard.observe(state, window)
        self.state.update(state)
        key = model.encode()
        log.debug(
            "guard closed window model=%s window_end_ms=%d rows=%d signals=%d",
            model,
            window_end_ms,
            len(rows),
            len(outcome.signals),
        )
        for signal in outcome.signals:
            yield Row(ROUTE_SIGNAL, key, SIGNAL.encode(signal))
        if outcome.rollback is not None:
            yield Row(ROUTE_ROLLBACK, key, ROLLBACK.encode(outcome.rollback))

    def _model_window(self, model: str, window_end_ms: int, rows: list) -> ModelWindow:
        start_ms = window_end_ms - self.window_ms
        shards = []
        window = ModelWindow(model, start_ms, window_end_ms)
        for kind, version, shard, n, n_error, replicas, sketch, extra in rows:
            if kind == KIND_LATENCY:
                shards.append(
                    ShardWindow(
                        model,
                        version,
                        shard,
                        start_ms,
                        window_end_ms,
                        n,
                        n_error,
                        replicas,
                        sketch,
                        extra,
                    )
                )
                continue
            bundle = FeatureSketches.from_bytes(sketch)
            current = window.features.get(version)
            window.features[version] = (
                bundle if current is None else current.merge(bundle)
            )
            window.feature_replicas[version] = (
                window.feature_replicas.get(version, 0) + replicas
            )
        window.latency = merge_fleet(shards)
        return window
