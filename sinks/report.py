"""The dashboard page: named query results drawn as inline SVG in one HTML file.

`collect` runs every named query through a `sinks.serve.Source`; `render`
turns the results into a self-contained page — no script, stylesheet, font or
image is fetched from anywhere — with six plots:

- ``latency``: fleet p99 (solid) and p50 (dashed) per version over time, with
  a red vertical marker at each rollback decision;
- ``shards``: the shards whose p99 stands out most from their model's median
  shard, as bars of the ratio, with the outlier line;
- ``drift``: the drift heatmap, feature × window, coloured by statistic over
  critical value (1 is the drift line), drifted cells outlined;
- ``rollbacks``: each rollback decision on a timeline, from its first
  breaching window to the decision, with its evidence in the tooltip;
- ``versions``: each version's share of traffic per window, stacked;
- ``deadletters``: dead letters by reason.

Contract for tests and scrapers: each plot is a ``<figure class="plot"
data-plot="NAME" data-points="N">`` where N is the number of data marks drawn
(elements with class ``mark``); a plot without data has ``data-points="0"``
and says so. User text is escaped; times are shown in UTC. The plots
themselves are drawn by `sinks.plots`; this module fetches the rows and
assembles the page around them.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import UTC, datetime

from sinks import dashboards, plots
from sinks.dashboards import Result
from sinks.serve import Source

PLOTS = ("latency", "shards", "drift", "rollbacks", "versions", "deadletters")
"""Plot names, in page order."""


def collect(
    source: Source, params: Mapping[str, str] | None = None
) -> dict[str, Result]:
    """Run every named query through ``source``; each gets those of ``params``
    it declares.

    Raises:
        DriftlineError: a bad parameter value or no way to the store.
    """
    params = dict(params or {})
    results = {}
    for name in dashboards.names():
        declared = dashboards.load(name).params
        results[name] = source.run(
            name, {k: v for k, v in params.items() if k in declared}
        )
    return results


def render(
    results: Mapping[str, Result],
    *,
    refresh_s: int | None = None,
    generated_at: datetime | None = None,
) -> str:
    """Return the page for ``results`` (keyed by query name, as from `collect`).

    Args:
        results: Named query results; a missing one draws an empty plot.
        refresh_s: When set, the page reloads itself this often (``--serve``).
        generated_at: The time printed on the page; now when None.
    """
    rows = {name: r.as_dicts() for name, r in results.items()}
    latency = rows.get("fleet_latency", [])
    rollbacks = rows.get("rollback_timeline", [])
    figures = [
        _figure(
            "latency",
            "Fleet latency by version (p99 solid, p50 dashed; red: rollbacks)",
            *plots.latency(latency, rollbacks),
        ),
        _figure(
            "shards",
            "Shards that stand out (p99 / model median shard p99)",
            *plots.shards(rows.get("outlying_shards", [])),
        ),
        _figure(
            "drift",
            "Drift heatmap (statistic / critical value; outlined: drifted)",
            *plots.drift(rows.get("drift_heatmap", [])),
        ),
        _figure(
            "rollbacks",
            "Rollback timeline (first breach → decision)",
            *plots.rollbacks(rollbacks),
        ),
        _figure(
            "versions",
            "Version shares of traffic per window",
            *plots.versions(rows.get("version_state", [])),
        ),
        _figure(
            "deadletters",
            "Dead letters by reason",
            *plots.dead_letters(rows.get("dead_letters", [])),
        ),
    ]
    stamp = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S UTC")
    refresh = (
        f'<meta http-equiv="refresh" content="{int(refresh_s)}">' if refresh_s else ""
    )
    return _PAGE.format(
        refresh=refresh,
        stamp=html.escape(stamp),
        figures="\n".join(figures),
        evidence=_evidence_table(rollbacks),
    )


def _figure(name: str, title: str, svg: str, points: int) -> str:
    body = svg if points else '<p class="empty">No data for this plot yet.</p>'
    return (
        f'<figure class="plot" id="plot-{name}" data-plot="{name}" '
        f'data-points="{points}"><figcaption>{html.escape(title)}</figcaption>'
        f"{body}</figure>"
    )


def _evidence_table(rows: list[dict]) -> str:
    if not rows:
        return "<p>No rollbacks.</p>"
    head = (
        "decided",
        "model",
        "from → to",
        "evidence",
        "value",
        "threshold",
        "p-value",
    )
    body = []
    for r in rows[:200]:
        where = r["evidence_shard"] or r["evidence_feature"] or ""
        cells = (
            r["decided_window_end"],
            r["model"],
            f"{r['from_version']} → {r['to_version']}",
            f"{r['evidence_signal'] or ''} {where}",
            "" if r["evidence_value"] is None else f"{r['evidence_value']:.4g}",
            "" if r["evidence_threshold"] is None else f"{r['evidence_threshold']:.4g}",
            "" if r["evidence_p_value"] is None else f"{r['evidence_p_value']:.3g}",
        )
        body.append(
            "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>"
        )
    header = "".join(f"<th>{h}</th>" for h in head)
    return f"<table><tr>{header}</tr>{''.join(body)}</table>"


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">{refresh}
<title>driftline dashboard</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 24px; color: #1a202c; }}
figure.plot {{ margin: 0 0 28px; }}
figcaption {{ font-weight: 600; margin-bottom: 6px; }}
.axis {{ stroke: #a0aec0; }}
.rollback {{ stroke: #e53e3e; stroke-width: 2; stroke-dasharray: 6 3; }}
.tick {{ font-size: 10px; fill: #4a5568; }}
.lbl {{ font-size: 11px; fill: #2d3748; }}
.empty {{ color: #718096; font-style: italic; }}
table {{ border-collapse: collapse; font-size: 12px; }}
td, th {{ border: 1px solid #e2e8f0; padding: 2px 6px; text-align: left; }}
</style></head>
<body>
<h1>driftline</h1>
<p>From the store at {stamp}. Times are UTC.</p>
{figures}
<h2>Rollback evidence</h2>
{evidence}
</body></html>
"""
