"""Every signal kind, rollback evidence p-values and reference profiles land in
their tables, and replays leave the same rows — against a real broker and an
embedded store."""

from __future__ import annotations

import time

from schemas import PROFILE, ROLLBACK, SIGNAL
from sinks.bench import produce
from tests.sinks.signal_records import (
    FEATURES,
    drift_signals,
    fleet_version_signals,
    profile,
)
from tests.sinks.test_sinks_loader import IDLE_S, count, make_loader, rollback_event


def _produce(bootstrap, topic, records, codec=SIGNAL):
    return produce(bootstrap, topic, (codec.encode(r) for r in records))


def test_drift_and_fleet_version_signals_are_stored_not_skipped(
    sinks_kafka, loader_topics, tmp_path
):
    _produce(sinks_kafka, loader_topics["signals"], drift_signals(5))
    _produce(sinks_kafka, loader_topics["signals"], fleet_version_signals(5))
    loader = make_loader(sinks_kafka, loader_topics, tmp_path / "store")
    try:
        stats = loader.run_until_idle(idle_s=IDLE_S, timeout_s=30)
        assert stats["skipped"] == 0
        assert stats["loaded"]["drift_results"] == 5 * len(FEATURES) * 2
        assert stats["loaded"]["fleet_versions"] == 10
        drifted = loader.store.query(
            "SELECT feature, comparison, method, psi FROM drift_results FINAL "
            "WHERE drifted_corrected = 1 ORDER BY window_start, comparison"
        ).result_rows
        assert {r[0] for r in drifted} == {"amount"}
        assert {r[2] for r in drifted} == {"ks"}
        psi_of_country = loader.store.query(
            "SELECT DISTINCT psi FROM drift_results FINAL WHERE feature = 'country'"
        ).result_rows
        assert psi_of_country == [(None,)]
        latest = loader.store.query(
            "SELECT version, replicas, samples, traffic_share, target_replicas "
            "FROM fleet_versions FINAL ORDER BY window_start DESC, version LIMIT 2"
        ).result_rows
        assert latest == [("v1", 4, 1000, 0.5, None), ("v2", 4, 1000, 0.5, 4)]
    finally:
        loader.close()


def test_replaying_drift_signals_twice_leaves_the_same_rows(
    sinks_kafka, loader_topics, tmp_path
):
    start_ms = (int(time.time() * 1000) // 10_000) * 10_000 - 600_000
    for _ in range(2):  # the run, then its replay
        _produce(sinks_kafka, loader_topics["signals"], drift_signals(4, start_ms))
        _produce(
            sinks_kafka, loader_topics["signals"], fleet_version_signals(4, start_ms)
        )
    loader = make_loader(sinks_kafka, loader_topics, tmp_path / "store")
    try:
        stats = loader.run_until_idle(idle_s=IDLE_S, timeout_s=30)
        assert stats["loaded"]["drift_results"] == 2 * 4 * len(FEATURES) * 2
        assert count(loader, "drift_results") == 4 * len(FEATURES) * 2
        assert count(loader, "fleet_versions") == 8
    finally:
        loader.close()


def test_profiles_keep_the_latest_per_version_with_their_sketch_bytes(
    sinks_kafka, loader_topics, tmp_path
):
    older, newer = profile("v1", 1_000), profile("v1", 2_000)
    newer["n"] = 7000
    _produce(sinks_kafka, loader_topics["profiles"], [newer, older], PROFILE)
    loader = make_loader(sinks_kafka, loader_topics, tmp_path / "store")
    try:
        stats = loader.run_until_idle(idle_s=IDLE_S, timeout_s=30)
        assert stats["loaded"]["reference_profiles"] == 2
        [row] = loader.store.query(
            "SELECT n, features, numeric['age'], categorical['country'] "
            "FROM reference_profiles FINAL",
            column_formats={"numeric": "bytes", "categorical": "bytes"},
        ).result_rows
        assert row[0] == 7000
        assert row[1] == ["age", "amount", "country"]
        raw = loader.store.query(
            "SELECT hex(numeric['age']), hex(categorical['country']) "
            "FROM reference_profiles FINAL"
        ).result_rows[0]
        assert bytes.fromhex(raw[0]) == newer["numeric"]["age"]
        assert bytes.fromhex(raw[1]) == newer["categorical"]["country"]
    finally:
        loader.close()


def test_drift_evidence_keeps_its_p_value_and_latency_evidence_has_none(
    sinks_kafka, loader_topics, tmp_path
):
    event = rollback_event("ev-drift")
    drift_item = dict(event["evidence"][0], signal="drift.ks", feature="amount")
    drift_item["p_value"] = 0.0004
    event["evidence"].append(drift_item)
    _produce(sinks_kafka, loader_topics["rollbacks"], [event], ROLLBACK)
    loader = make_loader(sinks_kafka, loader_topics, tmp_path / "store")
    try:
        loader.run_until_idle(idle_s=IDLE_S, timeout_s=30)
        [(p_values,)] = loader.store.query(
            "SELECT evidence.p_value FROM rollback_events FINAL"
        ).result_rows
        assert p_values == [None, 0.0004]
    finally:
        loader.close()
