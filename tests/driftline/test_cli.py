"""The console script's contract: every subcommand has --help, settings
resolve flags > environment > file, and operator mistakes get one sentence."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from driftline.cli import build_parser, main
from driftline.config import load_settings

SUBCOMMANDS = [
    ["up"],
    ["down"],
    ["run"],
    ["sink"],
    ["simulate"],
    ["alerts"],
    ["demo"],
    ["deploy", "announce"],
    ["profile", "create"],
    ["profile", "list"],
    ["query"],
    ["dashboard"],
]


@pytest.mark.parametrize("words", SUBCOMMANDS, ids=" ".join)
def test_every_subcommand_documents_itself(words: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([*words, "--help"])
    assert exit_info.value.code == 0
    assert "usage: driftline" in capsys.readouterr().out


def test_flags_beat_environment_which_beats_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "driftline.toml").write_text(
        'kafka_bootstrap = "file:1"\nclickhouse_dsn = "https://file:8443"\n'
        '[kafka_properties]\n"sasl.password" = "secret"\n'
    )
    env = {"DRIFTLINE_HOME": str(tmp_path), "DRIFTLINE_KAFKA_BOOTSTRAP": "env:1"}

    from_file = load_settings(environ={"DRIFTLINE_HOME": str(tmp_path)})
    from_env = load_settings(environ=env)
    from_flag = load_settings(bootstrap="flag:1", environ=env)

    assert from_file.kafka_bootstrap == "file:1"
    assert from_file.clickhouse_dsn == "https://file:8443"
    assert from_env.kafka_bootstrap == "env:1"
    assert from_flag.kafka_bootstrap == "flag:1"
    assert "secret" not in repr(from_flag)


def test_the_default_store_is_embedded_under_the_home(tmp_path: Path) -> None:
    settings = load_settings(environ={"DRIFTLINE_HOME": str(tmp_path)})
    assert settings.clickhouse_dsn == f"chdb://{tmp_path.resolve() / 'clickhouse'}"


def test_a_command_without_a_broker_says_how_to_get_one(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.delenv("DRIFTLINE_KAFKA_BOOTSTRAP", raising=False)
    code = main(["alerts", "--home", str(tmp_path), "--timeout", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().endswith(
        "run `driftline up` first or set DRIFTLINE_KAFKA_BOOTSTRAP."
    )


def test_a_bad_simulation_flag_names_the_flag(tmp_path: Path, capsys) -> None:
    code = main(
        [
            "simulate",
            "--home",
            str(tmp_path),
            "--bootstrap",
            "127.0.0.1:1",
            "--replicas",
            "0",
        ]
    )
    assert code == 2
    assert "--replicas must be at least 1, got 0" in capsys.readouterr().err


def test_an_unknown_scenario_is_refused_by_the_parser() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "driftline.cli", "simulate", "--scenario", "chaos"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "invalid choice: 'chaos'" in result.stderr


def test_alerts_print_drift_and_latency_evidence_in_their_own_words() -> None:
    from driftline.alerts import format_event

    event = {
        "event_id": "e1",
        "model": "ranker",
        "from_version": "v2",
        "to_version": "v1",
        "reason": "r",
        "evidence": [
            {
                "signal": "drift.ks",
                "window_start_ms": 0,
                "shard": None,
                "feature": "f03",
                "value": 0.31,
                "baseline_value": 6000.0,
                "threshold": 0.055,
                "n": 2000,
                "p_value": 1e-20,
            },
            {
                "signal": "latency.shard_p99_ratio",
                "window_start_ms": 0,
                "shard": "s01",
                "feature": None,
                "value": 300.0,
                "baseline_value": 90.0,
                "threshold": 1.5,
                "n": 200,
                "p_value": None,
            },
        ],
    }
    text = format_event(event)
    assert "ROLLBACK ranker: v2 -> v1" in text
    assert "feature=f03" in text and "critical=0.055" in text and "p=1.0e-20" in text
    assert "shard=s01" in text and "baseline_p99_ms=90.0" in text
