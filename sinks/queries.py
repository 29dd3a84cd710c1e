"""Named dashboard queries over the store, as lists of plain dicts.

Every query reads with ``FINAL``, so a window or event loaded twice (a replay,
a loader restart between insert and commit) counts once even before the
ReplacingMergeTree merges its parts. Values from callers are bound by the
driver as ``{name:Type}`` parameters, never pasted into the SQL text. Times come
back as timezone-aware UTC datetimes from a client of
`sinks.store.open_store`. A store without matching rows returns an empty list.
"""

from __future__ import annotations

from typing import Any

from clickhouse_connect.driver.client import Client

_FLEET_P99_BY_VERSION = """
SELECT
    model,
    version,
    count() AS windows,
    sum(n) AS spans,
    quantileExact(0.5)(p99_ms) AS median_p99_ms,
    max(p99_ms) AS max_p99_ms,
    max(window_start) AS latest_window_start,
    countIf(breach = 1) AS breached_windows
FROM latency_windows FINAL
WHERE kind = 'latency.fleet'
  AND ({model:Nullable(String)} IS NULL OR model = {model:Nullable(String)})
GROUP BY model, version
ORDER BY model, latest_window_start, version
"""

_ROLLBACKS = """
SELECT
    event_id,
    model,
    from_version,
    to_version,
    reason,
    baseline_rule,
    first_breach_window_start,
    decided_window_end,
    windows_breached,
    length(evidence.signal) AS evidence_items,
    evidence.signal AS evidence_signals,
    evidence.value AS evidence_values,
    evidence.threshold AS evidence_thresholds
FROM rollback_events FINAL
WHERE {model:Nullable(String)} IS NULL OR model = {model:Nullable(String)}
ORDER BY decided_window_end DESC, event_id
"""


def fleet_p99_by_version(
    client: Client, model: str | None = None
) -> list[dict[str, Any]]:
    """Return fleet p99 per (model, version): one dict per version.

    Keys: ``model``, ``version``, ``windows`` (fleet windows stored), ``spans``
    (sum of window span counts), ``median_p99_ms`` and ``max_p99_ms`` (over
    the fleet windows' p99), ``latest_window_start`` and ``breached_windows``.
    Ordered by model, then by when the version was last seen.

    Args:
        client: An open store.
        model: Only this model; None for every model.
    """
    return _dicts(client, _FLEET_P99_BY_VERSION, {"model": model})


def rollbacks(client: Client, model: str | None = None) -> list[dict[str, Any]]:
    """Return rollback events, newest decision first.

    Keys: the ``rollback_events`` columns except the Nested evidence, plus
    ``evidence_items`` and the evidence ``signal``, ``value`` and ``threshold``
    arrays as ``evidence_signals``, ``evidence_values``, ``evidence_thresholds``.

    Args:
        client: An open store.
        model: Only this model; None for every model.
    """
    return _dicts(client, _ROLLBACKS, {"model": model})


def _dicts(
    client: Client, sql: str, parameters: dict[str, Any]
) -> list[dict[str, Any]]:
    result = client.query(sql, parameters=parameters)
    return list(result.named_results())
