"""Versioned table DDL for the driftline store, applied when the loader starts.

Each file ``sql/NNNN_name.sql`` beside this module is one migration; its number
is its version. `apply_schema` runs, in order, every version not yet recorded
in ``driftline_migrations`` and records it, so running it again — or from a
second loader start — changes nothing. Migrations are only ever added, never
edited: a change to a table is a new file.

Row lifetimes (TTL) are settings rather than migrations: `apply_schema` sets
each table's TTL to the configured number of days (or removes it for None) and
leaves a table alone whose TTL already matches.

Every data table is a ReplacingMergeTree keyed by the identity of what it
stores, so a replayed record overwrites instead of duplicating once parts
merge; readers use ``FINAL`` so duplicates never show before then.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from driftline.errors import ConfigError, ServiceError

logger = logging.getLogger(__name__)

MIGRATIONS_TABLE = "driftline_migrations"
LATENCY_WINDOWS = "latency_windows"
ROLLBACK_EVENTS = "rollback_events"
DEAD_LETTERS = "dead_letters"
DRIFT_RESULTS = "drift_results"
FLEET_VERSIONS = "fleet_versions"
REFERENCE_PROFILES = "reference_profiles"

_FILE_NAME = re.compile(r"^(\d{4})_(\w+)\.sql$")


@dataclass(frozen=True)
class Retention:
    """How long rows live, in days; None keeps them forever.

    Attributes:
        signal_days: ``latency_windows``, ``drift_results`` and
            ``fleet_versions``, by window start.
        rollback_days: ``rollback_events``, by decision time.
        dead_letter_days: ``dead_letters``, by the source record's time.
    """

    signal_days: int | None = 30
    rollback_days: int | None = None
    dead_letter_days: int | None = 30


# table -> the time column its TTL counts from. Reference profiles have none:
# a profile lives until a newer one for its (model, version) replaces it.
_TTL_COLUMNS = {
    LATENCY_WINDOWS: "window_start",
    DRIFT_RESULTS: "window_start",
    FLEET_VERSIONS: "window_start",
    ROLLBACK_EVENTS: "decided_window_end",
    DEAD_LETTERS: "record_time",
}


@dataclass(frozen=True)
class Migration:
    """One numbered DDL file."""

    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    """Return every migration shipped with the package, by version.

    >>> [m.name for m in migrations()][:2]
    ['migrations', 'latency_windows']
    """
    found = []
    for entry in resources.files("sinks").joinpath("sql").iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            found.append(
                Migration(int(match.group(1)), match.group(2), entry.read_text())
            )
    return sorted(found, key=lambda m: m.version)


def apply_schema(client: Client, retention: Retention | None = None) -> list[int]:
    """Bring the store's tables to the newest version and set their TTLs.

    Args:
        client: An open store (see `sinks.store.open_store`).
        retention: Row lifetimes; the defaults of `Retention` when None.

    Returns:
        The versions this call applied; empty when the store was current.

    Raises:
        ConfigError: a TTL that is not a positive number of days.
        ServiceError: a DDL statement failed; versions before it stay applied
            and recorded, so the next call resumes from the failed one.
    """
    retention = retention or Retention()
    all_migrations = migrations()
    # The ledger itself is migration 1; create it before reading it.
    _run(client, all_migrations[0])
    done = {
        row[0]
        for row in client.query(
            f"SELECT version FROM {MIGRATIONS_TABLE} FINAL"
        ).result_rows
    }
    applied = []
    for migration in all_migrations:
        if migration.version in done:
            continue
        _run(client, migration)
        client.insert(
            MIGRATIONS_TABLE,
            [[migration.version, migration.name, datetime.now(UTC)]],
            column_names=["version", "name", "applied_at"],
        )
        applied.append(migration.version)
        logger.info("applied schema version %d (%s)", migration.version, migration.name)
    days = {
        LATENCY_WINDOWS: retention.signal_days,
        DRIFT_RESULTS: retention.signal_days,
        FLEET_VERSIONS: retention.signal_days,
        ROLLBACK_EVENTS: retention.rollback_days,
        DEAD_LETTERS: retention.dead_letter_days,
    }
    for table, ttl_days in days.items():
        _set_ttl(client, table, _TTL_COLUMNS[table], ttl_days)
    return applied


def _run(client: Client, migration: Migration) -> None:
    try:
        client.command(migration.sql)
    except ClickHouseError as exc:
        raise ServiceError(
            f"schema version {migration.version} ({migration.name}) failed: {exc}"
        ) from exc


def _set_ttl(client: Client, table: str, column: str, days: int | None) -> None:
    if days is not None and days <= 0:
        raise ConfigError(
            f"TTL of {table} must be a positive number of days, got {days!r}"
        )
    engine_full = client.query(
        "SELECT engine_full FROM system.tables "
        "WHERE database = currentDatabase() AND name = {table:String}",
        parameters={"table": table},
    ).result_rows[0][0]
    current = re.search(r"\bTTL (.+?)(?: SETTINGS |$)", engine_full)
    # The expression as the engine prints it back, so a match means "unchanged".
    wanted = f"toDateTime({column}) + toIntervalDay({days})" if days else None
    if (current.group(1).strip() if current else None) == wanted:
        return
    if wanted is None:
        client.command(f"ALTER TABLE {table} REMOVE TTL")
    else:
        client.command(
            f"ALTER TABLE {table} MODIFY TTL {wanted}",
            settings={"materialize_ttl_after_modify": 0},
        )
    logger.info("set TTL of %s to %s days", table, days if days else "no")
