"""Build the Grafana dashboard from the named queries; check it stays in step.

``python -m infra.grafana.build`` rewrites ``dashboards/driftline.json`` beside
this module. Every panel's SQL is a named query's body (`sinks.dashboards`)
with its ClickHouse placeholders translated into the Grafana ClickHouse data
source plugin's (``grafana-clickhouse-datasource``, v4) macros and variables
by `translate` — nothing else — so the page ``driftline dashboard`` renders
and Grafana show the same rows. A test compares the committed file with
`dashboard` and each panel's SQL with `translate` of its query.

Grafana needs a ClickHouse server (``http(s)://`` DSN): it cannot open the
embedded ``chdb://`` store. Translation:

- ``since`` / ``until`` → ``$__fromTime`` / ``$__toTime`` (the time picker);
- Nullable(String) parameters → ``nullIf(${name:sqlstring}, '')``: a dashboard
  variable whose "All" value is empty means "no filter", like NULL;
- any other parameter → ``${name}``, a text box with the query's default.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from sinks import dashboards
from sinks.dashboards import PLACEHOLDER

DATASOURCE = {"type": "grafana-clickhouse-datasource", "uid": "driftline-clickhouse"}
DASHBOARD_FILE = Path(__file__).parent / "dashboards" / "driftline.json"
_TIME_MACROS = {"since": "$__fromTime", "until": "$__toTime"}
_FORMAT_TIMESERIES, _FORMAT_TABLE = 0, 1

# query name -> panel type, plugin result format, fields kept for the plot
# (None keeps every field), grid height
_PANELS: dict[str, tuple[str, int, str | None, int]] = {
    "fleet_latency": (
        "timeseries",
        _FORMAT_TIMESERIES,
        "^(window_start|p50_ms.*|p99_ms.*)$",
        9,
    ),
    "outlying_shards": ("table", _FORMAT_TABLE, None, 8),
    "drift_heatmap": (
        "status-history",
        _FORMAT_TIMESERIES,
        "^(window_start|score.*)$",
        10,
    ),
    "rollback_timeline": ("table", _FORMAT_TABLE, None, 8),
    "version_state": (
        "timeseries",
        _FORMAT_TIMESERIES,
        "^(window_start|traffic_share.*)$",
        8,
    ),
    "dead_letters": ("barchart", _FORMAT_TABLE, None, 7),
}


def translate(body: str) -> str:
    """Return ``body`` with each ``{name:Type}`` placeholder in Grafana's terms.

    >>> translate("m = {model:Nullable(String)} AND n < {top:UInt32}")
    "m = nullIf(${model:sqlstring}, '') AND n < ${top}"
    """

    def replace(match: Any) -> str:
        name, type_name = match.group(1), match.group(2)
        if name in _TIME_MACROS:
            return _TIME_MACROS[name]
        if type_name == "Nullable(String)":
            return f"nullIf(${{{name}:sqlstring}}, '')"
        return f"${{{name}}}"

    return PLACEHOLDER.sub(replace, body)


def dashboard() -> dict[str, Any]:
    """Return the dashboard model: one panel per named query, in `_PANELS`
    order, and one variable per non-time parameter."""
    panels = []
    y = 0
    for panel_id, (name, (kind, fmt, keep, height)) in enumerate(_PANELS.items(), 1):
        query = dashboards.load(name)
        panel: dict[str, Any] = {
            "id": panel_id,
            "type": kind,
            "title": query.title,
            "description": query.description,
            "datasource": DATASOURCE,
            "gridPos": {"h": height, "w": 24, "x": 0, "y": y},
            "targets": [
                {
                    "refId": "A",
                    "datasource": DATASOURCE,
                    "editorType": "sql",
                    "queryType": "timeseries" if fmt == _FORMAT_TIMESERIES else "table",
                    "format": fmt,
                    "rawSql": translate(query.body),
                }
            ],
        }
        if keep:
            panel["transformations"] = [
                {"id": "filterFieldsByName", "options": {"include": {"pattern": keep}}}
            ]
        if name == "version_state":
            panel["fieldConfig"] = {
                "defaults": {
                    "unit": "percentunit",
                    "custom": {"drawStyle": "bars", "stacking": {"mode": "normal"}},
                },
                "overrides": [],
            }
        panels.append(panel)
        y += height
    return {
        "uid": "driftline",
        "title": "driftline",
        "tags": ["driftline"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": _variables()},
        "panels": panels,
    }


def _variables() -> list[dict[str, Any]]:
    seen: dict[str, dashboards.Param] = {}
    for name in _PANELS:
        for param in dashboards.load(name).params.values():
            if param.name not in _TIME_MACROS:
                seen.setdefault(param.name, param)
    variables = []
    for param in seen.values():
        if param.type == "Nullable(String)":
            column = param.name
            table = "drift_results" if param.name != "model" else "latency_windows"
            variables.append(
                {
                    "name": param.name,
                    "label": param.name,
                    "type": "query",
                    "datasource": DATASOURCE,
                    "query": f"SELECT DISTINCT {column} FROM {table} ORDER BY {column}",
                    "includeAll": True,
                    "allValue": "",
                    "current": {"text": "All", "value": "$__all"},
                    "refresh": 2,
                    "description": param.description,
                }
            )
        else:
            variables.append(
                {
                    "name": param.name,
                    "label": param.name,
                    "type": "textbox",
                    "query": param.default,
                    "current": {"text": param.default, "value": param.default},
                    "description": param.description,
                }
            )
    return variables


def render() -> str:
    """Return the dashboard as the JSON text kept in the repository."""
    return json.dumps(dashboard(), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    """Write `DASHBOARD_FILE`; print its path."""
    DASHBOARD_FILE.write_text(render(), encoding="utf-8")
    print(DASHBOARD_FILE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
