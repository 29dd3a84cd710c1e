"""What each ``driftline`` subcommand does, given its parsed flags and the
resolved `Settings`. `driftline.cli` owns the flags; each function here returns
the process exit code and raises `DriftlineError` for anything an operator
can fix.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading

from driftline.config import Settings, loader_topics
from driftline.errors import ConfigError
from sinks.cli_commands import dashboard_command, query_command


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
    from jobs.drift_policy import DriftPolicy
    from jobs.guard import GuardPolicy

    names = _topics(args.topic_suffix)
    config = JobConfig.for_topics(
        resolve_bootstrap(settings),
        names,
        window_ms=args.window_ms,
        grace_ms=args.grace_ms,
        idle_ms=args.idle_ms,
        checkpoint_ms=args.checkpoint_ms,
        parallelism=args.parallelism,
        bounded=args.bounded,
        group_id=args.group_id,
        kafka_properties=settings.kafka_properties,
        latency=not args.no_latency,
        drift=not args.no_drift,
        policy=GuardPolicy(
            breach_windows=args.breach_windows,
            cooldown_ms=args.cooldown_ms,
            drift=DriftPolicy(alpha=args.drift_alpha),
        ),
    )
    pipeline.run(config)
    return 0


def cmd_sink(args: argparse.Namespace, settings: Settings) -> int:
    from sinks.loader import Loader
    from sinks.serve import serving

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
        # While it loads, the loader also answers named queries for
        # `driftline query` and `driftline dashboard`: in embedded mode it is
        # the one process that may open the store.
        with serving(loader, settings.home):
            if args.until_idle is not None:
                stats = loader.run_until_idle(args.until_idle, timeout_s=float("inf"))
                print(json.dumps(stats, default=str))
            else:
                loader.run(threading.Event())
    finally:
        loader.close()
    return 0


def cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    from producers import SimulationConfig
    from producers import run as simulate

    names = _topics(args.topic_suffix)
    drift_features = (
        tuple(f.strip() for f in args.drift_features.split(",") if f.strip())
        if args.drift_features
        else None
    )
    config = SimulationConfig(
        scenario=args.scenario,
        replicas=args.replicas,
        shards=args.shards,
        rate_per_s=args.rate,
        duration_s=args.duration,
        seed=args.seed,
        realtime=not args.fast,
        rollout_at_s=args.rollout_at,
        feature_rate_per_s=args.feature_rate,
        drift_features=drift_features,
        drift_shift_sigma=args.drift_shift,
        announce=args.announce,
    )
    report = simulate(
        config,
        resolve_bootstrap(settings),
        topic=names["spans"],
        feature_topic=names["features"],
        deployment_topic=names["deployments"],
        producer_config=settings.kafka_properties or None,
    )
    print(
        f"sent {report.spans_sent} spans in {report.elapsed_s:.1f} s "
        f"({report.spans_per_s:.0f}/s), dropped {report.spans_dropped}; "
        f"candidate replicas {len(report.candidate_replicas)}, "
        f"slow replicas {', '.join(report.slow_replicas) or 'none'}; "
        f"feature samples {report.feature_samples_sent}, planted drift in "
        f"{', '.join(report.planted_features) or 'nothing'}"
    )
    return 0


def cmd_deploy(args: argparse.Namespace, settings: Settings) -> int:
    from producers import announce

    record = announce(
        resolve_bootstrap(settings),
        model=args.model,
        version=args.version,
        replaces=args.replaces,
        target_replicas=args.target_replicas,
        mode=args.mode,
        started_ms=args.started_ms,
        announced_by="driftline deploy announce",
        topic=_topics(args.topic_suffix)["deployments"],
        producer_config=settings.kafka_properties or None,
    )
    print(json.dumps(record, sort_keys=True))
    return 0


def cmd_profile(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from driftline.profiles import (
        build_profile,
        list_profiles,
        publish_profile,
        read_frame,
    )

    topic = _topics(args.topic_suffix)["profiles"]
    bootstrap = resolve_bootstrap(settings)
    props = settings.kafka_properties
    if args.profile_command == "create":
        path = Path(args.source)
        profile = build_profile(
            read_frame(path), model=args.model, version=args.version, source=path.name
        )
        publish_profile(bootstrap, topic, profile, kafka_properties=props)
        print(
            f"registered {profile['profile_id']}: {profile['n']} rows, "
            f"{len(profile['numeric'])} numeric and "
            f"{len(profile['categorical'])} categorical features"
        )
        return 0
    rows = list_profiles(bootstrap, topic, kafka_properties=props)
    for row in rows:
        if args.json:
            print(json.dumps(row, sort_keys=True))
        else:
            print(
                f"{row['model']:<16} {row['version']:<10} {row['rows']:>9} rows "
                f"{row['features']:>4} features  {row['profile_id']}  ({row['source']})"
            )
    if not rows and not args.json:
        print("no reference profiles registered")
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
    import logging

    from driftline.demo import run_demo

    if not args.verbose:
        # The demo narrates each step itself; the components' INFO lines would
        # bury that story. Warnings still show.
        for name in ("infra", "sinks", "producers", "jobs"):
            logging.getLogger(name).setLevel(logging.WARNING)
    return run_demo(
        settings, window_ms=args.window_ms, timeout_s=args.timeout, seed=args.seed
    )


COMMANDS = {
    "up": cmd_up,
    "down": cmd_down,
    "run": cmd_run,
    "sink": cmd_sink,
    "simulate": cmd_simulate,
    "deploy": cmd_deploy,
    "profile": cmd_profile,
    "query": query_command,
    "dashboard": dashboard_command,
    "alerts": cmd_alerts,
    "demo": cmd_demo,
}
