"""Counters the loader keeps: rows per table, batches, dead letters, retries.

Volumes are metrics, not log lines; `LoaderStats.as_dict` is what
`sinks.loader.Loader.stats` reports, plus consumer lag.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any


class LoaderStats:
    """Thread-safe counters of one loader; rates are over its run time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.loaded: dict[str, int] = {}
        self.batches = 0
        self.dead_lettered = 0
        self.skipped = 0
        self.retries = 0
        self.run_s = 0.0
        self.flush_s = 0.0
        self.last_activity = time.monotonic()

    def touch(self) -> None:
        """Note that a record or an assignment arrived (for idle detection)."""
        self.last_activity = time.monotonic()

    def record_batch(
        self, rows_by_table: Mapping[str, int], dead_lettered: int, flush_s: float
    ) -> None:
        """Count one committed batch that took ``flush_s`` to decode, store and
        commit (backoff waits included)."""
        with self._lock:
            self.flush_s += flush_s
            for table, n in rows_by_table.items():
                self.loaded[table] = self.loaded.get(table, 0) + n
            self.batches += 1
            self.dead_lettered += dead_lettered

    def add_run_time(self, seconds: float) -> None:
        """Add the length of a finished run to the time rates are taken over."""
        with self._lock:
            self.run_s += seconds

    def as_dict(self) -> dict[str, Any]:
        """Return a snapshot: ``loaded`` per table, ``rows_total``,
        ``rows_per_s`` (0 before any run ended), ``flush_rows_per_s`` (over
        the time spent flushing), ``batches``,
        ``dead_lettered``, ``skipped`` and ``retries``."""
        with self._lock:
            total = sum(self.loaded.values())
            return {
                "loaded": dict(self.loaded),
                "rows_total": total,
                "rows_per_s": total / self.run_s if self.run_s > 0 else 0.0,
                "batches": self.batches,
                "dead_lettered": self.dead_lettered,
                "skipped": self.skipped,
                "retries": self.retries,
                "run_s": self.run_s,
                "flush_s": self.flush_s,
                "flush_rows_per_s": total / self.flush_s if self.flush_s > 0 else 0.0,
            }
