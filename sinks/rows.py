"""Turn decoded Avro records into Arrow tables shaped like the store's tables.

One function per table. Each takes the decoded records of one batch and the
load time, and returns a `pyarrow.Table` whose column names and types match
the DDL in ``sql/``: times as ``timestamp[ms, UTC]``, bytes (sketches, dead
letter payloads and keys) as Arrow ``binary`` so they land byte for byte in
``String`` columns. An empty list gives an empty table with the same schema.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa

_TIME = pa.timestamp("ms", tz="UTC")
_LATENCY_FIELDS = (
    "p50_ms",
    "p90_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
    "p99_lower_ms",
    "p99_upper_ms",
    "rank_error",
)

LATENCY_SCHEMA = pa.schema(
    [
        ("window_start", _TIME),
        ("window_end", _TIME),
        ("kind", pa.string()),
        ("model", pa.string()),
        ("version", pa.string()),
        ("shard", pa.string()),
        ("role", pa.string()),
        ("baseline_version", pa.string()),
        ("n", pa.uint64()),
        ("replicas", pa.uint32()),
        *[(name, pa.float64()) for name in _LATENCY_FIELDS],
        ("ttft_p99_ms", pa.float64()),
        ("error_rate", pa.float64()),
        ("p99_ratio", pa.float64()),
        ("breach", pa.uint8()),
        ("sketch", pa.binary()),
        ("signal_id", pa.string()),
        ("loaded_at", _TIME),
    ]
)

ROLLBACK_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("model", pa.string()),
        ("from_version", pa.string()),
        ("to_version", pa.string()),
        ("reason", pa.string()),
        ("baseline_rule", pa.string()),
        ("first_breach_window_start", _TIME),
        ("decided_window_end", _TIME),
        ("windows_breached", pa.uint32()),
        ("evidence.signal", pa.list_(pa.string())),
        ("evidence.window_start", pa.list_(_TIME)),
        ("evidence.shard", pa.list_(pa.string())),
        ("evidence.feature", pa.list_(pa.string())),
        ("evidence.value", pa.list_(pa.float64())),
        ("evidence.baseline_value", pa.list_(pa.float64())),
        ("evidence.threshold", pa.list_(pa.float64())),
        ("evidence.n", pa.list_(pa.uint64())),
        ("evidence.p_value", pa.list_(pa.float64())),
        ("loaded_at", _TIME),
    ]
)

DEAD_LETTER_SCHEMA = pa.schema(
    [
        ("source_topic", pa.string()),
        ("source_partition", pa.int32()),
        ("source_offset", pa.int64()),
        ("key", pa.binary()),
        ("payload", pa.binary()),
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("record_time", _TIME),
        ("stage", pa.string()),
        ("loaded_at", _TIME),
    ]
)


DRIFT_SCHEMA = pa.schema(
    [
        ("window_start", _TIME),
        ("window_end", _TIME),
        ("model", pa.string()),
        ("version", pa.string()),
        ("feature", pa.string()),
        ("feature_kind", pa.string()),
        ("comparison", pa.string()),
        ("reference_version", pa.string()),
        ("role", pa.string()),
        ("baseline_version", pa.string()),
        ("method", pa.string()),
        ("statistic", pa.float64()),
        ("critical_value", pa.float64()),
        ("p_value", pa.float64()),
        ("psi", pa.float64()),
        ("n_reference", pa.uint64()),
        ("n_current", pa.uint64()),
        ("sketch_error", pa.float64()),
        ("missing_rate", pa.float64()),
        ("drifted", pa.uint8()),
        ("drifted_corrected", pa.uint8()),
        ("signal_id", pa.string()),
        ("loaded_at", _TIME),
    ]
)

FLEET_VERSION_SCHEMA = pa.schema(
    [
        ("window_start", _TIME),
        ("window_end", _TIME),
        ("model", pa.string()),
        ("version", pa.string()),
        ("role", pa.string()),
        ("baseline_version", pa.string()),
        ("replicas", pa.uint32()),
        ("samples", pa.uint64()),
        ("traffic_share", pa.float64()),
        ("announced", pa.uint8()),
        ("target_replicas", pa.uint32()),
        ("stalled", pa.uint8()),
        ("split_ms", pa.int64()),
        ("split_too_long", pa.uint8()),
        ("converged", pa.uint8()),
        ("signal_id", pa.string()),
        ("loaded_at", _TIME),
    ]
)

PROFILE_SCHEMA = pa.schema(
    [
        ("model", pa.string()),
        ("version", pa.string()),
        ("profile_id", pa.string()),
        ("created", _TIME),
        ("source", pa.string()),
        ("n", pa.uint64()),
        ("features", pa.list_(pa.string())),
        ("numeric", pa.map_(pa.string(), pa.binary())),
        ("categorical", pa.map_(pa.string(), pa.binary())),
        ("loaded_at", _TIME),
    ]
)

LATENCY_KINDS = ("latency.shard", "latency.fleet")
DRIFT_KIND = "drift.fleet"
FLEET_VERSION_KIND = "fleet.version"


def is_latency_signal(record: Mapping[str, Any]) -> bool:
    """Return True for the signals ``latency_windows`` stores."""
    return str(record.get("kind", "")).startswith("latency.")


def is_drift_signal(record: Mapping[str, Any]) -> bool:
    """Return True for the signals ``drift_results`` stores (drift stats set)."""
    return record.get("kind") == DRIFT_KIND and record.get("drift") is not None


def is_fleet_version_signal(record: Mapping[str, Any]) -> bool:
    """Return True for the signals ``fleet_versions`` stores (rollout set)."""
    return (
        record.get("kind") == FLEET_VERSION_KIND and record.get("rollout") is not None
    )


def latency_table(
    signals: Sequence[Mapping[str, Any]], loaded_at: datetime
) -> pa.Table:
    """Return one ``latency_windows`` row per signal.

    A signal without latency stats gets NaN quantiles, a null ttft and ratio,
    error rate 0 and no breach; a fleet signal (shard null) gets shard ``''``.
    """
    stats = [s.get("latency") or {} for s in signals]
    columns: dict[str, list[Any]] = {
        "window_start": [s["window_start_ms"] for s in signals],
        "window_end": [s["window_end_ms"] for s in signals],
        "kind": [s["kind"] for s in signals],
        "model": [s["model"] for s in signals],
        "version": [s["version"] for s in signals],
        "shard": [s.get("shard") or "" for s in signals],
        "role": [s["role"] for s in signals],
        "baseline_version": [s.get("baseline_version") or "" for s in signals],
        "n": [s["n"] for s in signals],
        "replicas": [s.get("replicas", 0) for s in signals],
    }
    for name in _LATENCY_FIELDS:
        columns[name] = [st.get(name, math.nan) for st in stats]
    columns["ttft_p99_ms"] = [st.get("ttft_p99_ms") for st in stats]
    columns["error_rate"] = [st.get("error_rate", 0.0) for st in stats]
    columns["p99_ratio"] = [st.get("p99_ratio") for st in stats]
    columns["breach"] = [1 if st.get("breach") else 0 for st in stats]
    columns["sketch"] = [s.get("sketch") or b"" for s in signals]
    columns["signal_id"] = [s["signal_id"] for s in signals]
    columns["loaded_at"] = [loaded_at] * len(signals)
    return pa.Table.from_pydict(columns, schema=LATENCY_SCHEMA)


def rollback_table(
    events: Sequence[Mapping[str, Any]], loaded_at: datetime
) -> pa.Table:
    """Return one ``rollback_events`` row per event, evidence as Nested arrays.

    Null evidence shards and features become ``''``; a null p-value (latency
    evidence) stays NULL.
    """
    columns: dict[str, list[Any]] = {
        name: [e[name] for e in events]
        for name in (
            "event_id",
            "model",
            "from_version",
            "to_version",
            "reason",
            "baseline_rule",
            "windows_breached",
        )
    }
    columns["first_breach_window_start"] = [
        e["first_breach_window_start_ms"] for e in events
    ]
    columns["decided_window_end"] = [e["decided_window_end_ms"] for e in events]
    evidence = [e.get("evidence") or [] for e in events]
    for name, source in (
        ("signal", "signal"),
        ("window_start", "window_start_ms"),
        ("value", "value"),
        ("baseline_value", "baseline_value"),
        ("threshold", "threshold"),
        ("n", "n"),
    ):
        columns[f"evidence.{name}"] = [[item[source] for item in ev] for ev in evidence]
    for name in ("shard", "feature"):
        columns[f"evidence.{name}"] = [
            [item.get(name) or "" for item in ev] for ev in evidence
        ]
    columns["evidence.p_value"] = [
        [item.get("p_value") for item in ev] for ev in evidence
    ]
    columns["loaded_at"] = [loaded_at] * len(events)
    return pa.Table.from_pydict(columns, schema=ROLLBACK_SCHEMA)


def dead_letter_table(
    letters: Sequence[Mapping[str, Any]], loaded_at: datetime
) -> pa.Table:
    """Return one ``dead_letters`` row per decoded DeadLetter record.

    A null key becomes ``b''``; ``record_timestamp_ms`` fills ``record_time``.
    """
    columns: dict[str, list[Any]] = {
        name: [d[name] for d in letters]
        for name in (
            "source_topic",
            "source_partition",
            "source_offset",
            "payload",
            "reason",
            "detail",
            "stage",
        )
    }
    columns["key"] = [d.get("key") or b"" for d in letters]
    columns["record_time"] = [d["record_timestamp_ms"] for d in letters]
    columns["loaded_at"] = [loaded_at] * len(letters)
    return pa.Table.from_pydict(columns, schema=DEAD_LETTER_SCHEMA)


def drift_table(signals: Sequence[Mapping[str, Any]], loaded_at: datetime) -> pa.Table:
    """Return one ``drift_results`` row per drift.fleet signal.

    Every signal must carry its ``drift`` record (see `is_drift_signal`); a
    null psi stays NULL and a null baseline version becomes ``''``.
    """
    stats = [s["drift"] for s in signals]
    columns: dict[str, list[Any]] = {
        "window_start": [s["window_start_ms"] for s in signals],
        "window_end": [s["window_end_ms"] for s in signals],
        "model": [s["model"] for s in signals],
        "version": [s["version"] for s in signals],
        "role": [s["role"] for s in signals],
        "baseline_version": [s.get("baseline_version") or "" for s in signals],
    }
    for name in (
        "feature",
        "feature_kind",
        "comparison",
        "reference_version",
        "method",
        "statistic",
        "critical_value",
        "p_value",
        "n_reference",
        "n_current",
        "sketch_error",
        "missing_rate",
    ):
        columns[name] = [st[name] for st in stats]
    columns["psi"] = [st.get("psi") for st in stats]
    columns["drifted"] = [1 if st["drifted"] else 0 for st in stats]
    columns["drifted_corrected"] = [1 if st["drifted_corrected"] else 0 for st in stats]
    columns["signal_id"] = [s["signal_id"] for s in signals]
    columns["loaded_at"] = [loaded_at] * len(signals)
    return pa.Table.from_pydict(columns, schema=DRIFT_SCHEMA)


def fleet_version_table(
    signals: Sequence[Mapping[str, Any]], loaded_at: datetime
) -> pa.Table:
    """Return one ``fleet_versions`` row per fleet.version signal.

    Every signal must carry its ``rollout`` record (see
    `is_fleet_version_signal`); ``samples`` is the signal's ``n`` and
    ``replicas`` the rollout's replica count.
    """
    stats = [s["rollout"] for s in signals]
    columns: dict[str, list[Any]] = {
        "window_start": [s["window_start_ms"] for s in signals],
        "window_end": [s["window_end_ms"] for s in signals],
        "model": [s["model"] for s in signals],
        "version": [s["version"] for s in signals],
        "role": [s["role"] for s in signals],
        "baseline_version": [s.get("baseline_version") or "" for s in signals],
        "replicas": [st["replicas"] for st in stats],
        "samples": [s["n"] for s in signals],
        "traffic_share": [st["traffic_share"] for st in stats],
        "target_replicas": [st.get("target_replicas") for st in stats],
        "split_ms": [st.get("split_ms", 0) for st in stats],
    }
    for name in ("announced", "stalled", "split_too_long", "converged"):
        columns[name] = [1 if st.get(name) else 0 for st in stats]
    columns["signal_id"] = [s["signal_id"] for s in signals]
    columns["loaded_at"] = [loaded_at] * len(signals)
    return pa.Table.from_pydict(columns, schema=FLEET_VERSION_SCHEMA)


def profile_table(
    profiles: Sequence[Mapping[str, Any]], loaded_at: datetime
) -> pa.Table:
    """Return one ``reference_profiles`` row per ReferenceProfile record.

    ``features`` lists the numeric features, then the categorical ones, each
    sorted by name; the sketch maps keep their bytes unchanged.
    """
    columns: dict[str, list[Any]] = {
        name: [p[name] for p in profiles]
        for name in ("model", "version", "profile_id", "source", "n")
    }
    columns["created"] = [p["created_ms"] for p in profiles]
    columns["features"] = [
        sorted(p["numeric"]) + sorted(p["categorical"]) for p in profiles
    ]
    for name in ("numeric", "categorical"):
        columns[name] = [sorted(p[name].items()) for p in profiles]
    columns["loaded_at"] = [loaded_at] * len(profiles)
    return pa.Table.from_pydict(columns, schema=PROFILE_SCHEMA)
