"""Versioned DDL: applying it twice changes nothing; TTLs follow settings."""

from __future__ import annotations

import pytest

from driftline.errors import ConfigError
from sinks.schema import Retention, apply_schema, migrations
from sinks.store import open_store

DATA_TABLES = (
    "latency_windows",
    "drift_results",
    "fleet_versions",
    "rollback_events",
    "dead_letters",
    "reference_profiles",
)


@pytest.fixture
def store(tmp_path):
    client = open_store(f"chdb://{tmp_path / 'store'}")
    yield client
    client.close()


def _engine(store, table):
    return store.query(
        "SELECT engine_full FROM system.tables "
        "WHERE database = currentDatabase() AND name = {t:String}",
        parameters={"t": table},
    ).result_rows[0][0]


def test_applying_the_schema_twice_applies_each_version_once(store):
    versions = [m.version for m in migrations()]
    assert apply_schema(store) == versions
    assert apply_schema(store) == []
    ledger = store.query("SELECT version FROM driftline_migrations ORDER BY version")
    assert [r[0] for r in ledger.result_rows] == versions
    tables = {r[0] for r in store.query("SHOW TABLES").result_rows}
    assert set(DATA_TABLES) <= tables


def test_every_data_table_replaces_rows_by_key(store):
    apply_schema(store)
    for table in DATA_TABLES:
        assert _engine(store, table).startswith("ReplacingMergeTree")


def test_ttl_follows_retention_and_none_removes_it(store):
    apply_schema(store)
    for table in ("latency_windows", "drift_results", "fleet_versions"):
        assert "toIntervalDay(30)" in _engine(store, table)
    assert " TTL " not in _engine(store, "reference_profiles")
    assert " TTL " not in _engine(store, "rollback_events")
    apply_schema(store, Retention(signal_days=None, rollback_days=90))
    assert " TTL " not in _engine(store, "latency_windows")
    assert "toIntervalDay(90)" in _engine(store, "rollback_events")


def test_a_non_positive_ttl_is_a_config_error(store):
    with pytest.raises(ConfigError):
        apply_schema(store, Retention(signal_days=0))
