"""Open the ClickHouse store the loader writes and the dashboards read.

One code path, clickhouse-connect, serves two kinds of store, chosen by DSN:

- ``chdb://<dir>`` — the embedded engine, persisted in ``<dir>``. Both
  ``chdb:///abs/path`` and a relative or ``~`` path are accepted; the folder is
  made absolute and created. The engine holds a lock on the folder, so exactly
  one process (the loader, which then also serves queries) may open it, and one
  process can have only one embedded folder open at a time.
- ``http(s)://[user:pass@]host:port[/database]`` — a ClickHouse server. User,
  password and TLS settings pass through to clickhouse-connect untouched.

Passwords never reach a log line: log `redact_dsn` of a DSN, never the DSN.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from driftline.errors import ConfigError, ServiceError

logger = logging.getLogger(__name__)

CHDB_SCHEME = "chdb"
SERVER_SCHEMES = ("http", "https")

# The engine takes an exclusive flock on this file in its data folder. When
# another process holds it, chdb raises a ProgrammingError that only says
# "Error initializing EmbeddedServer" (the lock detail goes to stderr), so the
# cause is confirmed by probing the lock after the failure.
_LOCK_FILE = "status"


def chdb_path(dsn: str) -> Path | None:
    """Return the absolute data folder of a ``chdb://`` DSN, or None for others.

    ``chdb:///abs/dir`` names ``/abs/dir``; ``chdb://rel/dir`` and
    ``chdb://~/dir`` are taken relative to the working folder and the home.

    Raises:
        ConfigError: a ``chdb://`` DSN without a folder (the embedded store
            must persist, so ``chdb://memory`` is refused too).

    >>> str(chdb_path("chdb:///var/lib/driftline"))
    '/var/lib/driftline'
    >>> chdb_path("http://localhost:8123") is None
    True
    """
    if not dsn.startswith(f"{CHDB_SCHEME}://"):
        return None
    raw = dsn[len(CHDB_SCHEME) + 3 :].split("?", 1)[0]
    if raw in ("", "/", "memory", ":memory:"):
        raise ConfigError(
            f"chdb DSN {dsn!r} names no data folder; use chdb:///abs/path or "
            "chdb://relative/path"
        )
    return Path(raw).expanduser().resolve()


def redact_dsn(dsn: str) -> str:
    """Return ``dsn`` with any password replaced by ``***``, for log lines.

    >>> redact_dsn("https://loader:s3cret@ch.example:8443/telemetry")
    'https://loader:***@ch.example:8443/telemetry'
    >>> redact_dsn("chdb:///data/driftline")
    'chdb:///data/driftline'
    """
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username or ''}:***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def locked_store_message(path: Path | str) -> str:
    """The one sentence an operator sees when another process holds the store."""
    return (
        f"the embedded ClickHouse store at {path} is open in another process "
        "(the loader owns it while it runs); stop that process or query "
        "through it."
    )


def open_store(
    dsn: str, settings: dict[str, Any] | None = None, **security: Any
) -> Client:
    """Return a clickhouse-connect client for ``dsn``.

    Args:
        dsn: ``chdb://<dir>`` or ``http(s)://[user:pass@]host:port[/database]``.
        settings: ClickHouse session settings applied to every query.
        **security: Passed to `clickhouse_connect.get_client` for a server
            (``username``, ``password``, ``verify``, ``ca_cert``,
            ``client_cert``, ...). Ignored for the embedded store.

    Returns:
        A connected client that returns timezone-aware UTC datetimes; the
        caller closes it.

    Raises:
        ConfigError: the DSN has an unknown scheme or no chdb folder.
        ServiceError: the store cannot be opened — for the embedded store held
            by another process, the message is `locked_store_message`.
    """
    path = chdb_path(dsn)
    if path is not None:
        return _open_embedded(path, settings)
    scheme = urlsplit(dsn).scheme
    if scheme not in SERVER_SCHEMES:
        raise ConfigError(
            f"store DSN {redact_dsn(dsn)!r} has scheme {scheme!r}; expected "
            "chdb://<dir>, http://host:port or https://host:port"
        )
    try:
        options = {"tz_mode": "aware", **security}
        return clickhouse_connect.get_client(dsn=dsn, settings=settings, **options)
    except ClickHouseError as exc:
        raise ServiceError(
            f"cannot reach the ClickHouse server at {redact_dsn(dsn)}: "
            f"{type(exc).__name__}"
        ) from exc


def _open_embedded(path: Path, settings: dict[str, Any] | None) -> Client:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ServiceError(
            f"cannot create the embedded ClickHouse store folder {str(path)!r}: "
            f"{exc.strerror or exc}"
        ) from exc
    try:
        return clickhouse_connect.get_client(
            interface=CHDB_SCHEME, path=str(path), settings=settings, tz_mode="aware"
        )
    except ClickHouseError as exc:
        if _held_by_another_process(path):
            raise ServiceError(locked_store_message(path)) from exc
        raise ServiceError(
            f"cannot open the embedded ClickHouse store at {path}: {exc}"
        ) from exc


def _held_by_another_process(path: Path) -> bool:
    """Return True when the engine lock file in ``path`` is locked right now.

    Only called after an open failed: in this process the engine either holds
    no folder or another folder, so a held lock means another process.
    """
    try:
        fd = os.open(path / _LOCK_FILE, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
