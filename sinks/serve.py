"""Lock-free queries for the embedded store: where named queries are run.

The embedded store (``chdb://<dir>``) can be open in one process at a time.
Design, so that an operator never has to know which process that is:

1. **The loader serves queries.** While ``driftline sink`` runs, `serving`
   starts a small HTTP endpoint on 127.0.0.1 (an ephemeral port) inside the
   loader's process and records it in ``$DRIFTLINE_HOME/loader.json`` with the
   loader's pid and store folder. It runs named queries only — never SQL sent
   by a caller — with typed, driver-bound parameters, and answers JSON
   (``GET /v1/queries``, ``GET /v1/query/<name>?param=value``). Queries and
   the loader's inserts take turns on `sinks.loader.Loader.store_lock`. The
   file is removed when the loader stops.
2. **Everyone else asks the loader first.** `open_source` (behind ``driftline
   query`` and ``driftline dashboard``) uses the endpoint named by
   ``loader.json`` when it answers for the same store folder.
3. **Otherwise it opens the store itself, briefly.** With no loader running,
   `StoreSource` opens the folder for each request and closes it straight
   after (an open costs ~50 ms), so a long-running ``dashboard --serve``
   never keeps a loader that starts later from its store.
4. **If neither works** — the folder is held by a process that serves no
   queries, e.g. a Python shell — the caller gets a `ServiceError` whose
   message is one sentence saying which process to stop (`HELD_MESSAGE`).

A server DSN (``http(s)://``) has no lock: `open_source` always opens it
directly.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol

from clickhouse_connect.driver.client import Client

from driftline.errors import ConfigError, DriftlineError, ServiceError
from sinks import dashboards
from sinks.dashboards import Result
from sinks.schema import apply_schema
from sinks.store import chdb_path, locked_store_message, open_store

logger = logging.getLogger(__name__)

ENDPOINT_FILE = "loader.json"
LOOPBACK = "127.0.0.1"
_ENDPOINT_TIMEOUT_S = 30.0


def held_message(path: Path | str) -> str:
    """The one sentence shown when the store is held by a process that serves
    no queries."""
    return (
        f"the embedded ClickHouse store at {path} is held by another process "
        "that does not serve queries; stop that process, or run the loader "
        "(driftline sink), which owns the store and answers queries for it."
    )


class Source(Protocol):
    """Something that runs named queries: the store itself or the loader."""

    def run(self, name: str, params: Mapping[str, str] | None = None) -> Result:
        """Run named query ``name`` with text parameter values."""
        ...

    def describe(self) -> str:
        """Say where queries go, for a log line (no secrets)."""
        ...


class StoreSource:
    """Runs named queries on a store it opens for each call and then closes.

    Args:
        dsn: Store DSN.
        security: Server options for `open_store` (never logged).
    """

    def __init__(self, dsn: str, security: Mapping[str, Any] | None = None) -> None:
        self.dsn = dsn
        self._security = dict(security or {})

    def run(self, name: str, params: Mapping[str, str] | None = None) -> Result:
        """Open the store, run ``name``, close it.

        Raises:
            ConfigError: unknown query or parameter, bad value.
            ServiceError: the store cannot be opened or refused the query.
        """
        path = chdb_path(self.dsn)
        try:
            client = open_store(self.dsn, **self._security)
        except ServiceError as exc:
            if path is not None and str(exc) == locked_store_message(path):
                raise ServiceError(held_message(path)) from exc
            raise
        try:
            if path is not None:
                apply_schema(client)  # a fresh folder answers with no rows
            return _run(client, name, params)
        finally:
            client.close()

    def describe(self) -> str:
        return "the store"


class EndpointSource:
    """Runs named queries through a loader's query endpoint.

    Args:
        base_url: ``http://127.0.0.1:<port>``.
    """

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def run(self, name: str, params: Mapping[str, str] | None = None) -> Result:
        """Ask the loader to run ``name``.

        Raises:
            ConfigError: the loader rejected the query name or a parameter.
            ServiceError: the loader did not answer or could not query.
        """
        query = urllib.parse.urlencode(dict(params or {}))
        url = f"{self.base_url}/v1/query/{urllib.parse.quote(name)}?{query}"
        try:
            with urllib.request.urlopen(url, timeout=_ENDPOINT_TIMEOUT_S) as resp:
                return Result.from_json(json.load(resp))
        except urllib.error.HTTPError as exc:
            message = _error_text(exc)
            if exc.code == 400:
                raise ConfigError(message) from exc
            raise ServiceError(message) from exc
        except OSError as exc:
            raise ServiceError(
                f"the loader's query endpoint {self.base_url} did not answer: {exc}"
            ) from exc

    def ping(self) -> bool:
        """Return True when the endpoint answers its query list."""
        try:
            url = f"{self.base_url}/v1/queries"
            with urllib.request.urlopen(url, timeout=2.0) as resp:
                return resp.status == 200
        except OSError:
            return False

    def describe(self) -> str:
        return f"the loader at {self.base_url}"


def open_source(
    dsn: str, home: Path, security: Mapping[str, Any] | None = None
) -> Source:
    """Return where named queries on ``dsn`` should run; see the module.

    Opens nothing yet: a `StoreSource` opens the store per call.
    """
    path = chdb_path(dsn)
    if path is not None:
        endpoint = running_endpoint(home, path)
        if endpoint is not None:
            return endpoint
    return StoreSource(dsn, security)


def running_endpoint(home: Path, store: Path) -> EndpointSource | None:
    """Return the endpoint ``home/loader.json`` names for ``store`` if it
    answers; None when there is no file, it names another store, or the
    loader is gone."""
    try:
        record = json.loads((home / ENDPOINT_FILE).read_text())
    except (OSError, ValueError):
        return None
    if record.get("store") != str(store):
        return None
    endpoint = EndpointSource(f"http://{LOOPBACK}:{int(record['port'])}")
    return endpoint if endpoint.ping() else None


class _Handler(BaseHTTPRequestHandler):
    server: _QueryServer

    def do_GET(self) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        if parsed.path == "/v1/queries":
            listing = [
                {"name": n, "title": dashboards.load(n).title}
                for n in dashboards.names()
            ]
            self._send(200, {"queries": listing})
            return
        prefix = "/v1/query/"
        if not parsed.path.startswith(prefix):
            self._send(404, {"error": f"no such path {parsed.path!r}"})
            return
        name = urllib.parse.unquote(parsed.path[len(prefix) :])
        params = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
        try:
            result = self.server.run_query(name, params)
        except ConfigError as exc:
            self._send(400, {"error": str(exc)})
        except DriftlineError as exc:
            self._send(503, {"error": str(exc)})
        except Exception as exc:  # the store's own errors: report, keep serving
            self._send(503, {"error": f"query {name!r} failed: {exc}"})
        else:
            self._send(200, result.to_json())

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("query endpoint: %s", format % args)


class _QueryServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, port: int, run_query: Callable[[str, Mapping[str, str]], Result]
    ) -> None:
        super().__init__((LOOPBACK, port), _Handler)
        self.run_query = run_query


def _error_text(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.load(exc)["error"])
    except (ValueError, KeyError, OSError):
        return f"the loader's query endpoint answered {exc.code}"


def _run(client: Client, name: str, params: Mapping[str, str] | None) -> Result:
    return dashboards.run(client, name, params or {})


@contextmanager
def serving(loader: Any, home: Path, port: int = 0) -> Iterator[str]:
    """Serve named queries from ``loader``'s store while the block runs.

    Only for an embedded store (for a server DSN it serves nothing and yields
    ``""``): binds 127.0.0.1:``port`` (0 picks a free port), writes
    ``home/loader.json`` and removes both on exit.

    Args:
        loader: A `sinks.loader.Loader` (its ``store`` and ``store_lock``).
        home: ``DRIFTLINE_HOME``.
        port: Port to bind; 0 for any free one.

    Yields:
        The endpoint's base URL.
    """
    path = chdb_path(loader.dsn)
    if path is None:
        yield ""
        return

    def run_query(name: str, params: Mapping[str, str]) -> Result:
        with loader.store_lock:
            return _run(loader.store, name, params)

    server = _QueryServer(port, run_query)
    thread = threading.Thread(
        target=server.serve_forever, name="driftline-query-endpoint", daemon=True
    )
    thread.start()
    url = f"http://{LOOPBACK}:{server.server_port}"
    record = home / ENDPOINT_FILE
    home.mkdir(parents=True, exist_ok=True)
    temp = record.with_suffix(".tmp")
    temp.write_text(
        json.dumps({"pid": os.getpid(), "port": server.server_port, "store": str(path)})
    )
    temp.replace(record)
    logger.info("serving named queries at %s", url)
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        try:
            if json.loads(record.read_text()).get("pid") == os.getpid():
                record.unlink()
        except (OSError, ValueError):
            pass
