"""Records of every kind the loader stores, for the sinks tests: drift results,
fleet version state and reference profiles, shaped by the Avro schemas."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

WINDOW_MS = 10_000
FEATURES = ("age", "amount", "country")


def window_starts(count: int, start_ms: int | None = None) -> list[int]:
    """``count`` window starts from an hour ago (inside the default TTL)."""
    if start_ms is None:
        start_ms = (int(time.time() * 1000) // WINDOW_MS) * WINDOW_MS - 3_600_000
    return [start_ms + i * WINDOW_MS for i in range(count)]


def drift_signals(windows: int, start_ms: int | None = None) -> Iterator[dict]:
    """Per window, per feature: a baseline and a reference comparison of v2."""
    for i, window_start_ms in enumerate(window_starts(windows, start_ms)):
        for feature in FEATURES:
            for comparison in ("baseline", "reference"):
                categorical = feature == "country"
                statistic = 0.02 + 0.05 * (i % 3) * (feature == "amount")
                yield {
                    "signal_id": (
                        f"drift.fleet|m|v2|{feature}|{comparison}|{window_start_ms}"
                    ),
                    "kind": "drift.fleet",
                    "window_start_ms": window_start_ms,
                    "window_end_ms": window_start_ms + WINDOW_MS,
                    "model": "m",
                    "version": "v2",
                    "shard": None,
                    "role": "candidate",
                    "baseline_version": "v1",
                    "n": 2000,
                    "replicas": 4,
                    "drift": {
                        "feature": feature,
                        "feature_kind": "categorical" if categorical else "numeric",
                        "comparison": comparison,
                        "reference_version": "v1",
                        "method": "chi2" if categorical else "ks",
                        "statistic": statistic,
                        "critical_value": 0.06,
                        "p_value": 0.5 if statistic < 0.06 else 0.001,
                        "psi": None if categorical else statistic * 2,
                        "n_reference": 5000,
                        "n_current": 2000,
                        "sketch_error": 0.013,
                        "missing_rate": 0.0,
                        "drifted": statistic >= 0.06,
                        "drifted_corrected": statistic >= 0.06,
                    },
                }


def fleet_version_signals(windows: int, start_ms: int | None = None) -> Iterator[dict]:
    """Per window, v1 and v2 sharing the traffic as v2 rolls out to 4 replicas."""
    for i, window_start_ms in enumerate(window_starts(windows, start_ms)):
        v2_replicas = min(i + 1, 4)
        for version, replicas in (("v1", 8 - v2_replicas), ("v2", v2_replicas)):
            yield {
                "signal_id": f"fleet.version|m|{version}||{window_start_ms}",
                "kind": "fleet.version",
                "window_start_ms": window_start_ms,
                "window_end_ms": window_start_ms + WINDOW_MS,
                "model": "m",
                "version": version,
                "shard": None,
                "role": "candidate" if version == "v2" else "baseline",
                "baseline_version": "v1",
                "n": replicas * 250,
                "replicas": replicas,
                "rollout": {
                    "replicas": replicas,
                    "traffic_share": replicas / 8,
                    "announced": version == "v2",
                    "target_replicas": 4 if version == "v2" else None,
                    "stalled": False,
                    "split_ms": i * WINDOW_MS,
                    "split_too_long": False,
                    "converged": False,
                },
            }


def profile(version: str = "v1", created_ms: int | None = None) -> dict[str, Any]:
    """A reference profile with two numeric and one categorical sketch."""
    return {
        "profile_id": f"m/{version}/{created_ms}",
        "model": "m",
        "version": version,
        "created_ms": created_ms or int(time.time() * 1000),
        "source": "train.parquet",
        "n": 5000,
        "numeric": {"age": b"\x00\x01\xffage", "amount": b"\x00\x02amount"},
        "categorical": {"country": b"\x00\x03\xfecountry"},
    }
