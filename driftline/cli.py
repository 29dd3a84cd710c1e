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
import logging
import sys
from collections.abc import Sequence

from driftline.commands import COMMANDS
from driftline.config import load_settings
from driftline.errors import DriftlineError

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
    from producers import SCENARIOS
    from sinks.cli_commands import add_dashboard_parser, add_query_parser

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
        help="process the records present now, then stop",
    )
    run.add_argument("--no-latency", action="store_true", help="skip the spans branch")
    run.add_argument("--no-drift", action="store_true", help="skip the features branch")
    run.add_argument("--breach-windows", type=int, default=3)
    run.add_argument("--cooldown-ms", type=int, default=300_000)
    run.add_argument("--drift-alpha", type=float, default=0.01)
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
    sim.add_argument("--scenario", choices=SCENARIOS, default="steady")
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
    sim.add_argument("--rollout-at", type=float, metavar="SECONDS", default=None)
    sim.add_argument("--feature-rate", type=float, metavar="SAMPLES_PER_S")
    sim.add_argument(
        "--drift-features", help="comma-separated features to shift (drift scenarios)"
    )
    sim.add_argument("--drift-shift", type=float, default=1.0, metavar="SIGMA")
    sim.add_argument(
        "--announce",
        action="store_true",
        help="announce the rollout on the deployments topic",
    )
    _with_topics(sim)

    deploy = sub.add_parser("deploy", parents=[common], help="rollout announcements")
    deploy_sub = deploy.add_subparsers(dest="deploy_command", required=True)
    announce = deploy_sub.add_parser(
        "announce", parents=[common], help="announce a rollout to the guard"
    )
    announce.add_argument("--model", required=True)
    announce.add_argument("--version", required=True, help="the version rolled out")
    announce.add_argument("--replaces", required=True, help="the version it replaces")
    announce.add_argument("--target-replicas", type=int, required=True)
    announce.add_argument(
        "--mode", choices=("canary", "rollout", "shadow"), default="canary"
    )
    announce.add_argument("--started-ms", type=int, help="default: now")
    _with_topics(announce)

    profile = sub.add_parser("profile", parents=[common], help="reference profiles")
    profile_sub = profile.add_subparsers(dest="profile_command", required=True)
    create = profile_sub.add_parser(
        "create", parents=[common], help="sketch a data set and register it"
    )
    create.add_argument("--model", required=True)
    create.add_argument("--version", required=True)
    create.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="FILE",
        help="Parquet or CSV file, one column per feature",
    )
    _with_topics(create)
    listing = profile_sub.add_parser("list", parents=[common], help="show profiles")
    listing.add_argument("--json", action="store_true")
    _with_topics(listing)

    add_query_parser(sub, common)
    add_dashboard_parser(sub, common)

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
