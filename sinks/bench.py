"""Measure the loader: synthetic latency signals through Kafka into the store.

Run against a broker of your own, or let it start a local one::

    python -m sinks.bench --signals 100000 [--bootstrap host:port] [--dsn chdb://dir]

It creates uniquely named topics, produces ``--signals`` fleet and shard
signals (each with a 1 KiB sketch), then times `Loader.run_until_idle` and
prints the rows stored, rows/s over the loader's run and the wall time.
`synthetic_signals` is also what the sinks tests produce.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from typing import Any

from confluent_kafka import Producer

from driftline.config import loader_topics
from infra.kafka import create_topics
from infra.topics import topic_names
from schemas import SIGNAL

WINDOW_MS = 10_000


def synthetic_signals(
    count: int,
    *,
    start_ms: int | None = None,
    shards: int = 8,
    sketch_bytes: int = 1024,
) -> Iterator[dict[str, Any]]:
    """Yield ``count`` distinct latency signals: per window, one fleet signal
    then ``shards`` shard signals, windows counting up from ``start_ms``
    (default: an hour ago, so the store's default TTL keeps them).

    >>> [s["kind"] for s in synthetic_signals(3, start_ms=0, shards=2)]
    ['latency.fleet', 'latency.shard', 'latency.shard']
    """
    if start_ms is None:
        start_ms = (int(time.time() * 1000) // WINDOW_MS) * WINDOW_MS - 3_600_000
    sketch = bytes(range(256)) * (sketch_bytes // 256)
    for i in range(count):
        window, slot = divmod(i, shards + 1)
        window_start_ms = start_ms + window * WINDOW_MS
        shard = None if slot == 0 else f"shard-{slot - 1:03d}"
        kind = "latency.fleet" if shard is None else "latency.shard"
        p99_ms = 80.0 + (i % 37)
        yield {
            "signal_id": f"{kind}|m|v1|{shard or ''}|{window_start_ms}",
            "kind": kind,
            "window_start_ms": window_start_ms,
            "window_end_ms": window_start_ms + WINDOW_MS,
            "model": "m",
            "version": "v1" if window % 2 == 0 else "v2",
            "shard": shard,
            "role": "baseline",
            "baseline_version": None,
            "n": 1000 + i % 100,
            "replicas": 4,
            "latency": {
                "p50_ms": 20.0,
                "p90_ms": 50.0,
                "p95_ms": 60.0,
                "p99_ms": p99_ms,
                "max_ms": p99_ms * 2,
                "p99_lower_ms": p99_ms - 1,
                "p99_upper_ms": p99_ms + 1,
                "rank_error": 0.0133,
                "ttft_p99_ms": None,
                "error_rate": 0.001,
                "p99_ratio": None,
                "breach": False,
            },
            "sketch": sketch,
        }


def produce(bootstrap: str, topic: str, values: Iterator[bytes]) -> int:
    """Produce ``values`` to ``topic`` and wait for every acknowledgment."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    count = 0
    for value in values:
        while True:
            try:
                producer.produce(topic, value, key=b"m")
                break
            except BufferError:
                producer.poll(0.1)
        count += 1
    producer.flush(60)
    return count


def main(argv: list[str] | None = None) -> None:
    from sinks.loader import Loader

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--signals", type=int, default=100_000)
    parser.add_argument(
        "--bootstrap", default=os.environ.get("DRIFTLINE_KAFKA_BOOTSTRAP")
    )
    parser.add_argument("--dsn", default=None)
    parser.add_argument("--batch-rows", type=int, default=5000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    service = None
    if not args.bootstrap:
        from infra.services import kafka_for_tests

        service = kafka_for_tests()
        args.bootstrap = service.bootstrap
    try:
        with tempfile.TemporaryDirectory(prefix="driftline-bench-") as folder:
            dsn = args.dsn or f"chdb://{folder}/store"
            names = topic_names(suffix=f"bench{uuid.uuid4().hex[:8]}")
            roles = loader_topics(names)
            create_topics(args.bootstrap, list(roles.values()), partitions=2)
            produced_at = time.perf_counter()
            produce(
                args.bootstrap,
                roles["signals"],
                (SIGNAL.encode(s) for s in synthetic_signals(args.signals)),
            )
            produce_s = time.perf_counter() - produced_at
            loader = Loader(
                args.bootstrap,
                dsn,
                topics=roles,
                group_id=f"bench-{uuid.uuid4().hex[:8]}",
                batch_rows=args.batch_rows,
            )
            try:
                _ = loader.store  # open it and apply the schema outside the timing
                stats = loader.run_until_idle(idle_s=1.0, timeout_s=600)
                stored = loader.store.query(
                    "SELECT count() FROM latency_windows FINAL"
                ).result_rows[0][0]
            finally:
                loader.close()
    finally:
        if service is not None:
            service.stop()
    print(
        f"produced {args.signals} signals in {produce_s:.1f} s; "
        f"stored {stored} rows; {stats['rows_per_s']:,.0f} rows/s over the whole "
        f"run ({stats['run_s']:.1f} s, with group join and 1 s idle); "
        f"{stats['flush_rows_per_s']:,.0f} rows/s while flushing (decode, insert, "
        f"commit: {stats['flush_s']:.1f} s); batches={stats['batches']}"
    )


if __name__ == "__main__":
    main()
