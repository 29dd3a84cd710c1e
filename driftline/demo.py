"""`driftline demo`: the whole pipeline end to end on the embedded defaults.

It starts (or reuses) the local broker, creates a fresh set of topics for this
run, starts the latency job as a child process, runs the loader in this
process (so this process owns the embedded store and can query it at the end),
and drives a simulated fleet in real time through the ``tail-regression``
scenario: a candidate version rolls out to a quarter of the replicas and three
of them grow a slow tail. It prints progress, the rollback event when the
guard decides, and fleet p99 by version read back from ClickHouse, then shuts
down everything it started, on success, failure or Ctrl-C.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from typing import Any

from driftline.alerts import follow_rollbacks, format_event
from driftline.config import Settings, loader_topics
from driftline.errors import ServiceError

log = logging.getLogger(__name__)

REPLICAS = 40
SHARDS = 4
RATE_PER_S = 800.0
ROLLOUT_AT_S = 10.0
PROGRESS_EVERY_S = 5.0


def say(message: str) -> None:
    print(f"[demo {time.strftime('%H:%M:%S')}] {message}", flush=True)


def run_demo(settings: Settings, *, window_ms: int, timeout_s: float, seed: int) -> int:
    """Run the demo; returns the process exit code (0 when a rollback arrived)."""
    from infra.flink import connector_jars
    from infra.kafka import LocalKafka, create_topics
    from infra.topics import default_specs, topic_names
    from producers import TAIL_REGRESSION, SimulationConfig
    from producers import run as simulate
    from sinks.loader import Loader
    from sinks.queries import fleet_p99_by_version

    started = time.monotonic()
    suffix = f"demo{int(time.time())}"
    names = topic_names(suffix=suffix)
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as cleanup:
        bootstrap = settings.kafka_bootstrap
        if bootstrap is None:
            broker = LocalKafka(settings.home)
            if not broker.status().running:
                say("starting the local Kafka broker (first run downloads its jars)")
                cleanup.callback(_stop_broker, broker)
            bootstrap = broker.start()
        connector_jars()
        create_topics(bootstrap, default_specs(suffix=suffix))
        say(f"Kafka at {bootstrap}; topics driftline.*.{suffix}")

        job_log = settings.logs_dir / f"latency-{suffix}.log"
        say(f"starting the stream job (window {window_ms} ms); log: {job_log}")
        job = _start_job(settings, bootstrap, suffix, window_ms, job_log)
        cleanup.callback(_stop_job, job)

        stop_loader = threading.Event()
        loader = Loader(
            bootstrap,
            settings.clickhouse_dsn,
            topics=loader_topics(names),
            group_id=f"driftline-demo-loader-{suffix}",
            batch_ms=500,
            kafka_properties=settings.kafka_properties,
        )
        cleanup.callback(loader.close)
        loader_thread = threading.Thread(
            target=loader.run, args=(stop_loader,), name="loader", daemon=True
        )
        loader_thread.start()
        cleanup.callback(_join, loader_thread, stop_loader)

        stop_sim = threading.Event()
        sent = {"spans": 0}
        sim_config = SimulationConfig(
            scenario=TAIL_REGRESSION,
            replicas=REPLICAS,
            shards=SHARDS,
            rate_per_s=RATE_PER_S,
            duration_s=timeout_s,
            seed=seed,
            rollout_at_s=ROLLOUT_AT_S,
            realtime=True,
        )
        report: dict[str, Any] = {}
        sim_thread = threading.Thread(
            target=lambda: report.setdefault(
                "report",
                simulate(
                    sim_config,
                    bootstrap,
                    topic=names["spans"],
                    stop_event=stop_sim,
                    progress=lambda done, total: sent.__setitem__("spans", done),
                    producer_config=settings.kafka_properties or None,
                ),
            ),
            name="simulator",
            daemon=True,
        )
        say(
            f"simulating {REPLICAS} replicas over {SHARDS} shards at {RATE_PER_S:.0f} "
            f"spans/s; candidate v2 rolls out at {ROLLOUT_AT_S:.0f} s with a slow tail "
            "on 3 replicas"
        )
        sim_thread.start()
        cleanup.callback(_join, sim_thread, stop_sim)

        ticker_stop = threading.Event()
        deadline = threading.Event()
        ticker = threading.Thread(
            target=_progress,
            args=(ticker_stop, deadline, sent, loader, job, job_log),
            daemon=True,
        )
        ticker.start()
        cleanup.callback(_join, ticker, ticker_stop)

        timer = threading.Timer(timeout_s, deadline.set)
        timer.start()
        cleanup.callback(timer.cancel)
        events = follow_rollbacks(
            bootstrap,
            names["rollbacks"],
            from_beginning=True,
            stop_event=deadline,
            kafka_properties=settings.kafka_properties,
        )
        event = next(events, None)
        events.close()
        ticker_stop.set()
        stop_sim.set()
        if event is None:
            if job.poll() is None:
                say(f"no rollback within {timeout_s:.0f} s; see {job_log}")
            return 1
        say("the guard decided:")
        print(format_event(event), flush=True)

        say("letting the loader catch up, then reading ClickHouse")
        time.sleep(3.0)
        stop_loader.set()
        loader_thread.join(timeout=30)
        rows = fleet_p99_by_version(loader.store)
        _print_table(rows)
        say(f"done in {time.monotonic() - started:.0f} s; shutting down")
    return 0


def _start_job(
    settings: Settings, bootstrap: str, suffix: str, window_ms: int, job_log: Any
) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "driftline.cli",
        "run",
        "--home",
        str(settings.home),
        "--bootstrap",
        bootstrap,
        "--topic-suffix",
        suffix,
        "--window-ms",
        str(window_ms),
        "--grace-ms",
        "1000",
        "--idle-ms",
        "10000",
        "--checkpoint-ms",
        "5000",
        "--group-id",
        f"driftline-demo-{suffix}",
    ]
    with open(job_log, "ab") as out:
        return subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop_job(job: subprocess.Popen[bytes]) -> None:
    if job.poll() is not None:
        return
    try:
        os.killpg(job.pid, signal.SIGTERM)
        job.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(job.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _stop_broker(broker: Any) -> None:
    say("stopping the local Kafka broker")
    broker.stop()


def _join(thread: threading.Thread, stop: threading.Event) -> None:
    stop.set()
    thread.join(timeout=30)


def _progress(
    stop: threading.Event,
    give_up: threading.Event,
    sent: dict[str, int],
    loader: Any,
    job: Any,
    job_log: Any,
) -> None:
    while not stop.wait(PROGRESS_EVERY_S):
        if job.poll() is not None:
            say(f"the stream job exited with code {job.returncode}; see {job_log}")
            give_up.set()
            return
        loaded = loader.counters.as_dict()["loaded"]
        say(
            f"spans sent {sent['spans']}; rows loaded into ClickHouse: "
            + (", ".join(f"{t} {n}" for t, n in sorted(loaded.items())) or "none yet")
        )


def _print_table(rows: list[dict[str, Any]]) -> None:
    if not rows:
        raise ServiceError("ClickHouse holds no latency windows after the demo run")
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(_cell(r[c])) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(_cell(row[c]).ljust(widths[c]) for c in columns))


def _cell(value: Any) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)
