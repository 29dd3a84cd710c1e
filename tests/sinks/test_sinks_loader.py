"""The loader against a real broker and an embedded store in a temp folder.

Crashes are simulated by raising from the step after which the process would
die; the broker and the database are real throughout.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from confluent_kafka import Consumer, TopicPartition

from schemas import DEADLETTER, ROLLBACK, SIGNAL
from sinks import queries
from sinks.bench import produce, synthetic_signals
from sinks.loader import UNDECODABLE, UNDECODABLE_DEAD_LETTER, Loader
from tests.sinks.conftest import committed_offsets, read_topic, release

IDLE_S = 1.0


class Crash(BaseException):
    """Stands for the process dying at the point where it is raised."""


def make_loader(bootstrap, topics, folder, *, cls=Loader, group_id=None, **kw):
    kw.setdefault("batch_rows", 100)
    kw.setdefault("batch_ms", 200)
    return cls(
        bootstrap,
        f"chdb://{folder}",
        topics=topics,
        group_id=group_id or f"loader-{uuid.uuid4().hex[:8]}",
        retry_initial_s=0.2,
        retry_max_s=1.0,
        **kw,
    )


def count(loader, table, final=True):
    sql = f"SELECT count() FROM {table}{' FINAL' if final else ''}"
    return loader.store.query(sql).result_rows[0][0]


def produce_signals(bootstrap, topic, n):
    return produce(bootstrap, topic, (SIGNAL.encode(s) for s in synthetic_signals(n)))


def rollback_event(event_id="ev-1"):
    now_ms = int(time.time() * 1000)
    return {
        "event_id": event_id,
        "model": "m",
        "from_version": "v2",
        "to_version": "v1",
        "reason": "fleet p99 ratio above 1.3 for 3 windows",
        "baseline_rule": "announced",
        "first_breach_window_start_ms": now_ms - 30_000,
        "decided_window_end_ms": now_ms,
        "windows_breached": 3,
        "evidence": [
            {
                "signal": "latency.fleet_p99_ratio",
                "window_start_ms": now_ms - 30_000,
                "shard": None,
                "feature": None,
                "value": 1.6,
                "baseline_value": 1.0,
                "threshold": 1.3,
                "n": 5000,
            }
        ],
    }


def test_signals_and_rollbacks_land_and_queries_read_them(
    sinks_kafka, loader_topics, tmp_path
):
    produce_signals(sinks_kafka, loader_topics["signals"], 450)
    produce(
        sinks_kafka,
        loader_topics["rollbacks"],
        iter([ROLLBACK.encode(rollback_event())]),
    )
    loader = make_loader(sinks_kafka, loader_topics, tmp_path / "store")
    try:
        stats = loader.run_until_idle(idle_s=IDLE_S, timeout_s=30)
        assert stats["idle"]
        assert stats["loaded"]["latency_windows"] == 450
        assert stats["loaded"]["rollback_events"] == 1
        assert sum(stats["lag"].values()) == 0
        assert count(loader, "latency_windows") == 450
        by_version = queries.fleet_p99_by_version(loader.store, model="m")
        assert {r["version"] for r in by_version} == {"v1", "v2"}
        assert sum(r["windows"] for r in by_version) == 50  # one fleet row in 9
        [event] = queries.rollbacks(loader.store)
        assert event["event_id"] == "ev-1"
        assert event["evidence_signals"] == ["latency.fleet_p99_ratio"]
        sketch = loader.store.query(
            "SELECT sketch FROM latency_windows FINAL LIMIT 1",
            column_formats={"sketch": "bytes"},
        ).result_rows[0][0]
        assert sketch == next(synthetic_signals(1))["sketch"]
    finally:
        loader.close()


def test_replaying_the_same_signals_twice_leaves_the_same_rows(
    sinks_kafka, loader_topics, tmp_path
):
    produce_signals(sinks_kafka, loader_topics["signals"], 300)
    produce_signals(sinks_kafka, loader_topics["signals"], 300)  # the replay
    loader = make_loader(sinks_kafka, loader_topics, tmp_path / "store")
    try:
        loader.run_until_idle(idle_s=IDLE_S, timeout_s=30)
        assert count(loader, "latency_windows") == 300
        assert loader.stats()["loaded"]["latency_windows"] == 600
    finally:
        loader.close()


class CrashBeforeCommit(Loader):
    """Dies after its second batch is stored but before its offsets commit."""

    commits = 0

    def _commit(self, batch):
        self.commits += 1
        if self.commits == 2:
            raise Crash
        super()._commit(batch)


class CrashBeforeInsert(Loader):
    """Dies on its second batch before writing anything."""

    writes = 0

    def _write(self, pending, letters):
        self.writes += 1
        if self.writes == 2:
            raise Crash
        super()._write(pending, letters)


@pytest.mark.parametrize("crashing", [CrashBeforeCommit, CrashBeforeInsert])
def test_a_restart_mid_batch_loses_and_duplicates_nothing(
    sinks_kafka, loader_topics, tmp_path, crashing
):
    produce_signals(sinks_kafka, loader_topics["signals"], 500)
    group = f"loader-{uuid.uuid4().hex[:8]}"
    first = make_loader(
        sinks_kafka, loader_topics, tmp_path / "store", cls=crashing, group_id=group
    )
    try:
        with pytest.raises(Crash):
            first.run_until_idle(idle_s=IDLE_S, timeout_s=30)
        committed = sum(
            max(o, 0)
            for o in committed_offsets(
                sinks_kafka, group, loader_topics["signals"]
            ).values()
        )
        assert committed == 100  # the first batch only
    finally:
        first.close()
    second = make_loader(sinks_kafka, loader_topics, tmp_path / "store", group_id=group)
    try:
        second.run_until_idle(idle_s=IDLE_S, timeout_s=30)
        assert count(second, "latency_windows") == 500
        assert second.stats()["loaded"]["latency_windows"] == 400
    finally:
        second.close()
    assert_committed_to_the_end(sinks_kafka, group, loader_topics["signals"])


def assert_committed_to_the_end(bootstrap, group, topic):
    committed = committed_offsets(bootstrap, group, topic)
    for partition, high in high_watermarks(bootstrap, topic).items():
        if high > 0:  # an empty partition has nothing to commit
            assert committed[partition] == high


def high_watermarks(bootstrap, topic):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "wm"})
    try:
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(2)
        }
    finally:
        consumer.close()


def test_loader_waits_for_a_held_store_and_catches_up(
    sinks_kafka, loader_topics, tmp_path, hold_store
):
    folder = tmp_path / "store"
    holder = hold_store(folder)
    produce_signals(sinks_kafka, loader_topics["signals"], 250)
    group = f"loader-{uuid.uuid4().hex[:8]}"
    loader = make_loader(sinks_kafka, loader_topics, folder, group_id=group)
    stop = threading.Event()
    runner = threading.Thread(target=loader.run, args=(stop,))
    runner.start()
    try:
        deadline = time.monotonic() + 20
        while loader.counters.retries < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert loader.counters.retries >= 3
        offsets = committed_offsets(sinks_kafka, group, loader_topics["signals"])
        assert all(o < 0 for o in offsets.values())  # nothing committed meanwhile
        release(holder)
        deadline = time.monotonic() + 30
        while (
            loader.counters.loaded.get("latency_windows", 0) < 250
            and time.monotonic() < deadline
        ):
            time.sleep(0.2)
    finally:
        stop.set()
        runner.join(30)
    try:
        assert count(loader, "latency_windows") == 250
        assert_committed_to_the_end(sinks_kafka, group, loader_topics["signals"])
    finally:
        loader.close()


def test_an_undecodable_signal_goes_to_the_dead_letter_topic_and_table(
    sinks_kafka, loader_topics, tmp_path
):
    produce_signals(sinks_kafka, loader_topics["signals"], 20)
    produce(sinks_kafka, loader_topics["signals"], iter([b"\xffnot avro"]))
    loader = make_loader(sinks_kafka, loader_topics, tmp_path / "store")
    try:
        stats = loader.run_until_idle(idle_s=IDLE_S, timeout_s=30)
        assert stats["dead_lettered"] == 1
        [msg] = read_topic(sinks_kafka, loader_topics["deadletter"], 1)
        letter = DEADLETTER.decode(msg.value())
        assert letter["payload"] == b"\xffnot avro"
        assert letter["reason"] == UNDECODABLE
        assert letter["source_topic"] == loader_topics["signals"]
        # the loader read its own dead letter back into the table
        rows = loader.store.query(
            "SELECT reason, payload, source_topic FROM dead_letters FINAL",
            column_formats={"payload": "bytes"},
        ).result_rows
        assert rows == [(UNDECODABLE, b"\xffnot avro", loader_topics["signals"])]
        assert count(loader, "latency_windows") == 20
    finally:
        loader.close()


def test_an_undecodable_dead_letter_is_stored_raw_and_not_sent_round(
    sinks_kafka, loader_topics, tmp_path
):
    produce(sinks_kafka, loader_topics["deadletter"], iter([b"\x01\x02garbage"]))
    loader = make_loader(sinks_kafka, loader_topics, tmp_path / "store")
    try:
        stats = loader.run_until_idle(idle_s=IDLE_S, timeout_s=30)
        assert stats["dead_lettered"] == 0
        rows = loader.store.query(
            "SELECT reason, payload, source_topic FROM dead_letters FINAL",
            column_formats={"payload": "bytes"},
        ).result_rows
        assert rows == [
            (UNDECODABLE_DEAD_LETTER, b"\x01\x02garbage", loader_topics["deadletter"])
        ]
        assert len(read_topic(sinks_kafka, loader_topics["deadletter"], 2, 3)) == 1
    finally:
        loader.close()
