"""Benchmark of the stream job on this machine: throughput, memory, detection.

``python -m jobs.bench`` starts (or uses, with ``--bootstrap``) a Kafka broker,
fills fresh topics with the fleet simulator, and measures:

* **spans/s**: the bounded job over a small and a large span backlog, after
  an uncounted warm-up job; the rate is the difference in spans over the
  difference in wall time, which removes a job's fixed start-up cost (job
  submission, Python worker) from the figure;
* **feature values/s**: the same with feature samples only (25 features ×
  16 shards by default), counting every feature value of every sample;
* **memory**: the peak resident set of this process and every process it
  started (the Flink JVM, the Python workers), sampled twice a second;
* **detection** (``--detect``): a streaming job and a real-time
  ``feature-drift`` simulation; the time from the first drifted sample (the
  candidate's rollout) to the rollback event arriving on its topic.

Figures are printed, never asserted: this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from driftline.alerts import follow_rollbacks
from infra.kafka import create_topics
from infra.services import kafka_for_tests
from infra.topics import default_specs, topic_names
from jobs import pipeline
from jobs.config import JobConfig
from jobs.runtime import child_environment
from producers import SimulationConfig
from producers import run as simulate

#: 21 numeric + 3 categorical features + the prediction.
FEATURES_PER_SAMPLE = 25


class PeakMemory:
    """Samples the summed RSS of this process tree until stopped."""

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            self.peak_mb = max(self.peak_mb, _tree_rss_mb(os.getpid()))


def _tree_rss_mb(root: int) -> float:
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        pid = int(entry.name)
        children.setdefault(int(fields["PPid"].strip()), []).append(pid)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0])
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total / 1024


def fresh_topics(bootstrap: str) -> dict[str, str]:
    suffix = f"bench{uuid.uuid4().hex[:8]}"
    create_topics(bootstrap, default_specs(suffix=suffix))
    return topic_names(suffix=suffix)


def timed_job(bootstrap: str, topics: dict[str, str], **kwargs: object) -> float:
    config = JobConfig.for_topics(
        bootstrap,
        topics,
        window_ms=10_000,
        bounded=True,
        group_id=f"bench-{uuid.uuid4().hex[:8]}",
        **kwargs,
    )
    started = time.perf_counter()
    pipeline.run(config)
    return time.perf_counter() - started


def measure(
    label: str,
    bootstrap: str,
    fill: Callable[[dict[str, str], int], int],
    small: int,
    large: int,
    unit_per_record: int,
    **job: object,
) -> None:
    runs = []
    # The first job of a process also pays for the JVM gateway: run one that
    # is not counted, so the small and the large run pay the same fixed cost.
    timed_job(bootstrap, fresh_topics(bootstrap), **job)
    for count in (small, large):
        topics = fresh_topics(bootstrap)
        started = time.perf_counter()
        records = fill(topics, count)
        produce_s = time.perf_counter() - started
        with PeakMemory() as memory:
            wall_s = timed_job(bootstrap, topics, **job)
        runs.append((records, wall_s))
        print(
            f"{label}: {records} records produced in {produce_s:.1f} s, job wall "
            f"{wall_s:.1f} s, peak RSS of the job's process tree "
            f"{memory.peak_mb:.0f} MB",
            flush=True,
        )
    (n_small, t_small), (n_large, t_large) = runs
    if t_large <= t_small:
        print(f"{label}: inconclusive, the large run was not slower than the small one")
        return
    rate = (n_large - n_small) / (t_large - t_small)
    print(
        f"{label}: steady-state {rate:,.0f} records/s"
        + (f" = {rate * unit_per_record:,.0f} values/s" if unit_per_record > 1 else "")
        + f" (overall incl. start-up {n_large / t_large:,.0f} records/s)",
        flush=True,
    )


def fill_spans(bootstrap: str) -> Callable[[dict[str, str], int], int]:
    def fill(topics: dict[str, str], count: int) -> int:
        rate = 5000.0
        report = simulate(
            SimulationConfig(
                scenario="tail-regression",
                replicas=400,
                shards=16,
                rate_per_s=rate,
                duration_s=count / rate,
                seed=1,
                start_ms=int(time.time() * 1000) - int(count / rate * 1000) - 60_000,
            ),
            bootstrap,
            topic=topics["spans"],
        )
        return report.spans_sent

    return fill


def fill_features(bootstrap: str, shards: int) -> Callable[[dict[str, str], int], int]:
    def fill(topics: dict[str, str], count: int) -> int:
        rate = 4000.0
        duration_s = count / rate
        report = simulate(
            SimulationConfig(
                scenario="feature-drift",
                replicas=64,
                shards=shards,
                numeric_features=21,
                rate_per_s=1.0,
                feature_rate_per_s=rate,
                duration_s=duration_s,
                seed=2,
                start_ms=int(time.time() * 1000) - int(duration_s * 1000) - 60_000,
            ),
            bootstrap,
            topic=topics["spans"],
            feature_topic=topics["features"],
            deployment_topic=topics["deployments"],
        )
        return report.feature_samples_sent

    return fill


def detection(bootstrap: str, home: Path) -> None:
    topics = fresh_topics(bootstrap)
    suffix = topics["spans"].rsplit(".", 1)[1]
    log_path = home / "bench-detect.log"
    home.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log_file:
        job = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "driftline.cli",
                "run",
                "--bootstrap",
                bootstrap,
                "--topic-suffix",
                suffix,
                "--window-ms",
                "5000",
                "--grace-ms",
                "1000",
                "--idle-ms",
                "5000",
                "--group-id",
                f"bench-{suffix}",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=child_environment(),
        )
    stop = threading.Event()
    rollout_at_s = 20.0
    config = SimulationConfig(
        scenario="feature-drift",
        replicas=40,
        shards=4,
        rate_per_s=200.0,
        feature_rate_per_s=1600.0,
        duration_s=180.0,
        seed=3,
        rollout_at_s=rollout_at_s,
        realtime=True,
    )
    sim = threading.Thread(
        target=simulate,
        args=(config, bootstrap),
        kwargs={
            "topic": topics["spans"],
            "feature_topic": topics["features"],
            "deployment_topic": topics["deployments"],
            "stop_event": stop,
        },
        daemon=True,
    )
    started_ms = time.time() * 1000
    sim.start()
    try:
        events = follow_rollbacks(
            bootstrap, topics["rollbacks"], from_beginning=True, idle_timeout_s=170.0
        )
        event = next(events, None)
        arrived_ms = time.time() * 1000
        events.close()
    finally:
        stop.set()
        job.terminate()
        job.wait(30)
    if event is None:
        print(f"detection: no rollback within the run; see {log_path}")
        return
    first_drifted_ms = started_ms + rollout_at_s * 1000
    features = sorted({e["feature"] for e in event["evidence"] if e["feature"]})
    print(
        f"detection: first drifted sample to rollback event on the topic "
        f"{(arrived_ms - first_drifted_ms) / 1000:.1f} s (5 s windows, 1 s grace, "
        f"3 breaching windows; features {features})"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="benchmark the driftline job")
    parser.add_argument("--bootstrap", help="an existing broker (default: start one)")
    parser.add_argument("--spans", type=int, default=300_000)
    parser.add_argument("--samples", type=int, default=120_000)
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--detect", action="store_true")
    args = parser.parse_args(argv)
    service = None
    bootstrap = args.bootstrap
    if bootstrap is None:
        service = kafka_for_tests()
        bootstrap = service.bootstrap
    try:
        heap_mb = os.environ.get("DRIFTLINE_FLINK_HEAP_MB", 1024)
        print(f"broker {bootstrap}; flink heap {heap_mb} MB")
        if args.spans:
            measure(
                "spans",
                bootstrap,
                fill_spans(bootstrap),
                args.spans // 5,
                args.spans,
                1,
                drift=False,
            )
        if args.samples:
            measure(
                f"feature samples (25 features x {args.shards} shards)",
                bootstrap,
                fill_features(bootstrap, args.shards),
                args.samples // 5,
                args.samples,
                FEATURES_PER_SAMPLE,
                latency=False,
            )
        if args.detect:
            detection(bootstrap, Path.home() / ".driftline" / "logs")
    finally:
        if service is not None:
            service.stop()


if __name__ == "__main__":
    main()
