"""The same store code against a real ClickHouse server.

Runs only when DRIFTLINE_TEST_CLICKHOUSE_URL names one, e.g.
``http://user:pass@host:8123`` (https and a database path work too). Rows use
a model name unique to the run, so a shared server is not disturbed.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

import pytest

from sinks import dashboards, rows
from sinks.bench import synthetic_signals
from sinks.schema import apply_schema
from sinks.store import open_store, redact_dsn
from tests.sinks.signal_records import drift_signals

SERVER_URL = os.environ.get("DRIFTLINE_TEST_CLICKHOUSE_URL")
pytestmark = pytest.mark.skipif(
    not SERVER_URL,
    reason="set DRIFTLINE_TEST_CLICKHOUSE_URL=http://user:pass@host:8123 to run",
)


@pytest.fixture
def server():
    assert SERVER_URL
    client = open_store(SERVER_URL)
    apply_schema(client)
    yield client
    client.close()


def _with_model(records, model):
    return [dict(r, model=model) for r in records]


def test_the_schema_applies_twice_on_a_server(server):
    assert apply_schema(server) == []


def test_replaying_signals_on_a_server_leaves_the_same_rows(server):
    model = f"srv-{uuid.uuid4().hex[:8]}"
    latency = _with_model(synthetic_signals(90), model)
    drift = _with_model(drift_signals(3), model)
    for _ in range(2):
        now = datetime.now(UTC)
        server.insert_arrow("latency_windows", rows.latency_table(latency, now))
        server.insert_arrow("drift_results", rows.drift_table(drift, now))
    for table, expected in (("latency_windows", 90), ("drift_results", len(drift))):
        counted = server.query(
            f"SELECT count() FROM {table} FINAL WHERE model = {{m:String}}",
            parameters={"m": model},
        ).result_rows[0][0]
        assert counted == expected
    result = dashboards.run(server, "fleet_latency", {"model": model})
    assert len(result.rows) == 10
    assert dashboards.run(server, "drift_heatmap", {"model": model}).rows


def test_the_password_never_reaches_the_redacted_dsn():
    assert SERVER_URL
    redacted = redact_dsn(SERVER_URL)
    password = SERVER_URL.split("@")[0].rsplit(":", 1)[-1] if "@" in SERVER_URL else ""
    assert not password or password not in redacted.split("@")[0].split(":")[-1]
