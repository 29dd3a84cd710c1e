"""Tests for the Maven Central jar cache (infra.jars, infra.flink).

Most tests run a fake ``mvn`` (a shell script on PATH) against a temporary
cache, so they are fast and count Maven invocations; one test resolves the real
Flink connector through the real ``mvn``.
"""

from __future__ import annotations

import hashlib
import stat
import threading
from pathlib import Path

import pytest

from driftline.errors import PrerequisiteError, ServiceError
from infra import jars
from infra.flink import connector_jars, pipeline_jars_value

FAKE_MVN = """#!/bin/sh
# Stands in for Maven: records the call, then "resolves" one jar.
PATH=/usr/bin:/bin
echo call >> "{calls}"
sleep {delay_s}
if [ -n "{fail}" ]; then echo "[ERROR] Could not resolve {fail}"; exit 1; fi
for arg in "$@"; do
  case "$arg" in
    -DoutputDirectory=*) out="${{arg#-DoutputDirectory=}}" ;;
  esac
done
mkdir -p "$out" && echo jar > "$out/fake-1.0.jar"
"""


def install_fake_mvn(
    bin_dir: Path, calls: Path, delay_s: float = 0.0, fail: str = ""
) -> None:
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "mvn"
    script.write_text(FAKE_MVN.format(calls=calls, delay_s=delay_s, fail=fail))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def fake_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "jars"
    monkeypatch.setenv("DRIFTLINE_JAR_CACHE", str(cache))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    return cache


def test_cache_dir_follows_env_then_xdg_then_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIFTLINE_JAR_CACHE", str(tmp_path / "explicit"))
    assert jars.jar_cache_dir() == tmp_path / "explicit"

    monkeypatch.delenv("DRIFTLINE_JAR_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert jars.jar_cache_dir() == tmp_path / "xdg" / "driftline" / "jars"

    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert jars.jar_cache_dir() == tmp_path / "home" / ".cache" / "driftline" / "jars"


def test_second_call_reuses_the_cache_without_running_maven(
    fake_cache: Path, tmp_path: Path
) -> None:
    calls = tmp_path / "calls"
    install_fake_mvn(tmp_path / "bin", calls)

    first = jars.jar_paths("flink-connectors")
    second = jars.jar_paths("flink-connectors")

    assert first == second == [fake_cache / "flink-connectors" / "fake-1.0.jar"]
    assert calls.read_text().count("call") == 1


def test_racing_callers_run_maven_once(fake_cache: Path, tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    install_fake_mvn(tmp_path / "bin", calls, delay_s=0.5)
    results: list[Path] = []

    threads = [
        threading.Thread(
            target=lambda: results.append(jars.ensure_jars("kafka-broker"))
        )
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [fake_cache / "kafka-broker"] * 3
    assert calls.read_text().count("call") == 1
    assert not [p for p in fake_cache.iterdir() if p.name.startswith(".kafka-broker-")]


def test_an_edited_pom_makes_the_set_resolve_again(
    fake_cache: Path, tmp_path: Path
) -> None:
    calls = tmp_path / "calls"
    install_fake_mvn(tmp_path / "bin", calls)
    target = jars.ensure_jars("flink-connectors")

    (target / jars.MARKER).write_text(hashlib.sha256(b"an older pom").hexdigest())
    jars.ensure_jars("flink-connectors")

    assert calls.read_text().count("call") == 2


def test_a_filled_cache_needs_no_maven(fake_cache: Path) -> None:
    digest = hashlib.sha256(jars.pom_text("kafka-broker").encode()).hexdigest()
    target = fake_cache / "kafka-broker"
    target.mkdir(parents=True)
    (target / "a.jar").write_text("jar")
    (target / jars.MARKER).write_text(digest + "\n")

    assert jars.jar_paths("kafka-broker") == [target / "a.jar"]


def test_missing_maven_names_the_fix(fake_cache: Path) -> None:
    with pytest.raises(PrerequisiteError) as raised:
        jars.ensure_jars("kafka-broker")

    assert str(raised.value) == (
        "mvn was not found on PATH; install Maven 3 (e.g. `apt-get install maven`) "
        "and try again."
    )


def test_missing_java_names_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(PrerequisiteError) as raised:
        jars.require_tool("java")

    assert str(raised.value) == (
        "java was not found on PATH; install a JDK 17 (e.g. `apt-get install "
        "openjdk-17-jdk-headless`) and try again."
    )


def test_maven_failure_names_the_command_and_its_output(
    fake_cache: Path, tmp_path: Path
) -> None:
    install_fake_mvn(tmp_path / "bin", tmp_path / "calls", fail="org.example:nope")

    with pytest.raises(ServiceError) as raised:
        jars.ensure_jars("flink-connectors")

    message = str(raised.value)
    assert "dependency:copy-dependencies" in message
    assert "Could not resolve org.example:nope" in message
    assert not (fake_cache / "flink-connectors").exists()


def test_unknown_jar_set_is_a_config_error() -> None:
    with pytest.raises(Exception, match="no jar set named 'nope'"):
        jars.ensure_jars("nope")


def test_flink_connector_resolves_from_maven_central() -> None:
    paths = connector_jars()

    assert [p.name for p in paths] == ["flink-sql-connector-kafka-5.0.0-2.2.jar"]
    assert paths[0].is_absolute() and paths[0].stat().st_size > 1_000_000
    assert pipeline_jars_value() == paths[0].as_uri()
