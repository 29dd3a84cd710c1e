"""The store opener: DSN forms, redaction, and the locked-folder sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftline.errors import ConfigError, ServiceError
from sinks.store import chdb_path, locked_store_message, open_store, redact_dsn


def test_redact_dsn_hides_the_password_and_keeps_the_rest():
    dsn = "https://loader:hunter2@ch.example:8443/telemetry?secure=1"
    assert redact_dsn(dsn) == "https://loader:***@ch.example:8443/telemetry?secure=1"
    assert "hunter2" not in redact_dsn(dsn)


def test_relative_chdb_path_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert chdb_path("chdb://store/a") == tmp_path / "store" / "a"
    assert chdb_path("chdb:///abs/x") == Path("/abs/x")


def test_chdb_dsn_without_a_folder_is_a_config_error():
    with pytest.raises(ConfigError):
        chdb_path("chdb://memory")


def test_open_store_creates_the_folder_and_answers(tmp_path):
    folder = tmp_path / "nested" / "store"
    client = open_store(f"chdb://{folder}")
    try:
        assert client.query("SELECT 1").result_rows == [(1,)]
        assert folder.is_dir()
    finally:
        client.close()


def test_unknown_scheme_is_a_config_error():
    with pytest.raises(ConfigError, match="scheme 'ftp'"):
        open_store("ftp://user:pw@host/x")


def test_a_folder_held_by_another_process_gives_one_plain_sentence(
    tmp_path, hold_store
):
    folder = tmp_path / "store"
    hold_store(folder)
    with pytest.raises(ServiceError) as caught:
        open_store(f"chdb://{folder}")
    assert str(caught.value) == locked_store_message(folder)
    assert str(caught.value) == (
        f"the embedded ClickHouse store at {folder} is open in another process "
        "(the loader owns it while it runs); stop that process or query through it."
    )


def test_a_folder_that_cannot_be_created_is_a_service_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ServiceError, match="cannot create"):
        open_store(f"chdb://{blocker}/store")
