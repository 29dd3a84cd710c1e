"""The ``driftline`` console script: one subcommand per thing an operator does.

Every subcommand takes ``--home``, ``--bootstrap`` and ``--dsn`` (or the
``DRIFTLINE_HOME``, ``DRIFTLINE_KAFKA_BOOTSTRAP`` and
``DRIFTLINE_CLICKHOUSE_DSN`` variables, or the config file; see
`driftline.config`). Without a bootstrap, commands use the broker that
``driftline up`` started under the home folder. ``--topic-suffix`` runs a
command against an isolated set of topics (``driftline.spans.<suffix>`` ...).

Exit codes: 0 success, 2 a driftline error (one plain sentence on stderr),
130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
from collections.abc import Sequence

from driftline.config import Settings, load_settings, loader_topics
from driftline.errors import ConfigError, DriftlineError

log = logging.getLogger("driftline")


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--home", help="state folder (default $DRIFTLINE_HOME or ~/.driftline)"
    )
    common.add_argument("--bootstrap", help="Kafka bootstrap servers (host:port,...)")
    common.add_argument(
        "--dsn", help="ClickHouse DSN: chdb://DIR or http(s)://host:port"
    )
    common.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG")
    return common


def _with_topics(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--topic-suffix", default="", help="use driftline.<role>.<suffix> topics"
    )


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="driftline",
        description="Streaming latency and drift telemetry for ML serving fleets.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser("up", parents=[common], help="start the local Kafka broker")
    up.add_argument("--port", type=int, help="client port on 127.0.0.1 (default: free)")
    _with_topics(up)
    sub.add_parser("down", parents=[common], help="stop the local Kafka broker")

    run = sub.add_parser(
        "run", parents=[common], help="run the stream job (latency and drift)"
    )
    run.add_argument("--window-ms", type=int, default=10_000)
    run.add_argument("--grace-ms", type=int, default=2_000)
    run.add_argument("--idle-ms", type=int, default=30_000)
    run.add_argument("--checkpoint-ms", type=int, default=10_000)
    run.add_argument("--parallelism", type=int, default=1)
    run.add_argument("--group-id", default="driftline-job")
    run.add_argument(
        "--bounded",
        action="store_true",
        help="process the spans present now, then stop",
    )
    _with_topics(run)

    sink = sub.add_parser("sink", parents=[common], help="load signals into ClickHouse")
    sink.add_argument("--group-id", default="driftline-loader")
    sink.add_argument("--batch-rows", type=int, default=5000)
    sink.add_argument("--batch-ms", type=int, default=1000)
    sink.add_argument(
        "--until-idle",
        type=float,
        metavar="SECONDS",
        help="stop once no record arrived for this long",
    )
    _with_topics(sink)

    sim = sub.add_parser("simulate", parents=[common], help="simulate a serving fleet")
    sim.add_argument(
        "--scenario", choices=("steady", "tail-regression"), default="steady"
    )
    sim.add_argument("--replicas", type=int, default=40)
    sim.add_argument("--shards", type=int, default=4)
    sim.add_argument("--rate", type=float, default=1000.0, metavar="EVENTS_PER_S")
    sim.add_argument("--duration", type=float, default=60.0, metavar="SECONDS")
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument(
        "--fast",
        action="store_true",
        help="emit as fast as possible on a simulated clock instead of in real time",
    )
    _with_topics(sim)

    alerts = sub.add_parser("alerts", parents=[common], help="follow rollback events")
    alerts.add_argument("--from-beginning", action="store_true")
    alerts.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="exit once this long passes with no new event (default: follow forever)",
    )
    alerts.add_argument("--json", action="store_true", help="one JSON object per line")
    _with_topics(alerts)

    demo = sub.add_parser(
        "demo",
        parents=[common],
        help="run everything end to end on the embedded defaults",
    )
    demo.add_argument("--window-ms", type=int, default=5_000)
    demo.add_argument("--timeout", type=float, default=240.0, metavar="SECONDS")
    demo.add_argument("--seed", type=int, default=7)
    return parser


def resolve_bootstrap(settings: Settings) -> str:
    """The configured bootstrap, else the local broker's, else a plain error."""
    if settings.kafka_bootstrap:
        return settings.kafka_bootstrap
    from infra.kafka import LocalKafka

    status = LocalKafka(settings.home).status()
    if status.running and status.bootstrap:
        return status.bootstrap
    raise ConfigError(
        "no Kafka broker is known; run `driftline up` first or set "
        "DRIFTLINE_KAFKA_BOOTSTRAP."
    )


def _topics(suffix: str) -> dict[str, str]:
    from infra.topics import topic_names

    return topic_names(suffix=suffix)


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    from infra.flink import connector_jars
    from infra.kafka import LocalKafka, create_topics
    from infra.topics import default_specs

    connector_jars()
    bootstrap = LocalKafka(settings.home).start(port=args.port)
    create_topics(bootstrap, default_specs(suffix=args.topic_suffix))
    print(bootstrap)
    return 0


def cmd_down(args: argparse.Namespace, settings: Settings) -> int:
    from infra.kafka import LocalKafka

    stopped = LocalKafka(settings.home).stop()
    print("broker stopped" if stopped else "no broker was running")
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from jobs import pipeline
    from jobs.config import JobConfig

    names = _topics(args.topic_suffix)
    config = JobConfig(
        bootstrap=resolve_bootstrap(settings),
        spans_topic=names["spans"],
        features_topic=names["features"],
        deployments_topic=names["deployments"],
        profiles_topic=names["profiles"],
        signals_topic=names["signals"],
        rollbacks_topic=names["rollbacks"],
        deadletter_topic=names["deadletter"],
        window_ms=args.window_ms,
        grace_ms=args.grace_ms,
        idle_ms=args.idle_ms,
        checkpoint_ms=args.checkpoint_ms,
        parallelism=args.parallelism,
        bounded=args.bounded,
        group_id=args.group_id,
        kafka_properties=settings.kafka_properties,
    )
    pipeline.run(config)
    return 0


def cmd_sink(args: argparse.Namespace, settings: Settings) -> int:
    from sinks.loader import Loader

    loader = Loader(
        resolve_bootstrap(settings),
        settings.clickhouse_dsn,
        topics=loader_topics(_topics(args.topic_suffix)),
        group_id=args.group_id,
        batch_rows=args.batch_rows,
        batch_ms=args.batch_ms,
        kafka_properties=settings.kafka_properties,
    )
    try:
        if args.until_idle is not None:
            stats = loader.run_until_idle(args.until_idle, timeout_s=None)
            print(json.dumps(stats, default=str))
        else:
            loader.run(threading.Event())
    finally:
        loader.close()
    return 0


def cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    from producers import SimulationConfig
    from producers import run as simulate

    config = SimulationConfig(
        scenario=args.scenario,
        replicas=args.replicas,
        shards=args.shards,
        rate_per_s=args.rate,
        duration_s=args.duration,
        seed=args.seed,
        realtime=not args.fast,
    )
    report = simulate(
        config,
        resolve_bootstrap(settings),
        topic=_topics(args.topic_suffix)["spans"],
        producer_config=settings.kafka_properties or None,
    )
    print(
        f"sent {report.spans_sent} spans in {report.elapsed_s:.1f} s "
        f"({report.spans_per_s:.0f}/s), dropped {report.spans_dropped}; "
        f"candidate replicas {len(report.candidate_replicas)}, "
        f"slow replicas {', '.join(report.slow_replicas) or 'none'}"
    )
    return 0


def cmd_alerts(args: argparse.Namespace, settings: Settings) -> int:
    from driftline.alerts import follow_rollbacks, format_event

    for event in follow_rollbacks(
        resolve_bootstrap(settings),
        _topics(args.topic_suffix)["rollbacks"],
        from_beginning=args.from_beginning,
        idle_timeout_s=args.timeout,
        kafka_properties=settings.kafka_properties,
    ):
        print(json.dumps(event, sort_keys=True) if args.json else format_event(event))
        sys.stdout.flush()
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from driftline.demo import run_demo

    return run_demo(
        settings, window_ms=args.window_ms, timeout_s=args.timeout, seed=args.seed
    )


COMMANDS = {
    "up": cmd_up,
    "down": cmd_down,
    "run": cmd_run,
    "sink": cmd_sink,
    "simulate": cmd_simulate,
    "alerts": cmd_alerts,
    "demo": cmd_demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("py4j", "urllib3", "numba"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        settings = load_settings(home=args.home, bootstrap=args.bootstrap, dsn=args.dsn)
        return COMMANDS[args.command](args, settings)
    except DriftlineError as exc:
        print(f"driftline: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("driftline: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
