"""The Flink environment every driftline job runs in.

Locally, PyFlink starts a JVM gateway with an embedded mini-cluster; the same
job file submits unchanged to a session cluster with ``flink run -py``, where
the cluster's own configuration wins. This module sets what must be explicit
either way: the connector jars, the Python interpreter of the workers, the
gateway heap (uncapped by default, a quarter of RAM), checkpointing, and the
watermark idle timeout.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from pyflink.common import Configuration
from pyflink.datastream import CheckpointingMode, StreamExecutionEnvironment
from pyflink.table import StreamTableEnvironment

from infra.flink import pipeline_jars_value

log = logging.getLogger(__name__)

DEFAULT_HEAP_MB = 1024


def create_environment(
    *, parallelism: int, checkpoint_ms: int, idle_ms: int, restart: bool = True
) -> tuple[StreamExecutionEnvironment, StreamTableEnvironment]:
    """Build the stream and table environments for one job.

    A streaming job (``restart``) restarts from its last checkpoint after a
    failure with exponential back-off (1 s doubling to 60 s), forever: a
    telemetry pipeline should outlive a broker restart. A bounded run fails
    at once instead, so a backfill or test reports the error rather than
    retrying it.

    The gateway heap comes from ``DRIFTLINE_FLINK_HEAP_MB`` (default 1024); it
    only applies when this call starts the gateway JVM.

    Raises:
        PrerequisiteError: the connector jars are not cached and mvn is missing.
    """
    heap_mb = int(os.environ.get("DRIFTLINE_FLINK_HEAP_MB", DEFAULT_HEAP_MB))
    if "FLINK_LOG_DIR" not in os.environ:
        # Flink's own log goes under the home, not into site-packages, and each
        # process gets a file of its own.
        home = Path(os.environ.get("DRIFTLINE_HOME") or Path.home() / ".driftline")
        log_dir = home / "logs" / f"flink-{os.getpid()}"
        log_dir.mkdir(parents=True, exist_ok=True)
        os.environ["FLINK_LOG_DIR"] = str(log_dir)
    if "-Xmx" not in os.environ.get("JVM_ARGS", ""):
        os.environ["JVM_ARGS"] = (
            os.environ.get("JVM_ARGS", "") + f" -Xms256m -Xmx{heap_mb}m"
        ).strip()
    config = Configuration()
    config.set_string("pipeline.jars", pipeline_jars_value())
    config.set_string("python.executable", sys.executable)
    config.set_string("python.client.executable", sys.executable)
    if restart:
        config.set_string("restart-strategy.type", "exponential-delay")
        config.set_string("restart-strategy.exponential-delay.initial-backoff", "1 s")
        config.set_string("restart-strategy.exponential-delay.max-backoff", "60 s")
    else:
        config.set_string("restart-strategy.type", "none")
    env = StreamExecutionEnvironment.get_execution_environment(config)
    env.set_parallelism(parallelism)
    env.enable_checkpointing(checkpoint_ms, CheckpointingMode.EXACTLY_ONCE)
    # One failed checkpoint (a task finishing, a slow sink) must not fail the
    # job; a run of them still does.
    env.get_checkpoint_config().set_tolerable_checkpoint_failure_number(5)
    t_env = StreamTableEnvironment.create(env)
    table_config = t_env.get_config()
    table_config.set("table.exec.source.idle-timeout", f"{idle_ms} ms")
    table_config.set("python.executable", sys.executable)
    # Whole windows reach the pandas aggregates at once; large Arrow batches keep
    # the per-batch overhead out of the per-record cost.
    table_config.set("python.fn-execution.arrow.batch.size", "50000")
    table_config.set("python.fn-execution.bundle.size", "50000")
    table_config.set("python.fn-execution.bundle.time", "500")
    log.debug("flink environment parallelism=%d heap_mb=%d", parallelism, heap_mb)
    return env, t_env


def child_environment() -> dict[str, str]:
    """This process's environment without what PyFlink set in it, for a child
    process that starts a Flink job of its own (a child that inherits them
    believes it runs inside a Python worker and refuses to start a gateway)."""
    inherited = ("FLINK_LOG_DIR", "JVM_ARGS")
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PYFLINK_") and key not in inherited
    }
