"""The Grafana dashboard is built from the named queries and kept in step."""

from __future__ import annotations

import json

from infra.grafana import build
from sinks import dashboards


def test_the_committed_dashboard_is_the_one_the_named_queries_build():
    assert build.DASHBOARD_FILE.read_text(encoding="utf-8") == build.render()


def test_each_panel_runs_its_named_query_with_only_placeholders_translated():
    model = json.loads(build.DASHBOARD_FILE.read_text(encoding="utf-8"))
    by_title = {p["title"]: p for p in model["panels"]}
    for name in dashboards.names():
        query = dashboards.load(name)
        [target] = by_title[query.title]["targets"]
        assert target["rawSql"] == build.translate(query.body)
        assert "{" + "since:" not in target["rawSql"]
        assert target["datasource"]["type"] == "grafana-clickhouse-datasource"


def test_every_non_time_parameter_has_a_dashboard_variable():
    names = {v["name"] for v in build.dashboard()["templating"]["list"]}
    for name in dashboards.names():
        for param in dashboards.load(name).params:
            assert param in names | {"since", "until"}
