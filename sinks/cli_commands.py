"""``driftline query`` and ``driftline dashboard``: parsers and command bodies.

`driftline.cli` wires them in; each command takes the parsed arguments and
the resolved `driftline.config.Settings` and returns the exit status. Both
reach the store through `sinks.serve.open_source`, so in embedded mode they
ask a running loader and never need the store's lock themselves.

- ``driftline query [NAME] [--param k=v ...] [--format table|json|csv]``
  runs one named query (without NAME: lists them with their parameters).
- ``driftline dashboard --out report.html`` writes the self-contained page;
  ``driftline dashboard --serve PORT`` serves it, re-read from the store on
  every load, until interrupted.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import sys
import threading
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO

from driftline.config import Settings
from driftline.errors import ConfigError, DriftlineError
from sinks import dashboards, report
from sinks.serve import Source, open_source

logger = logging.getLogger(__name__)

FORMATS = ("table", "json", "csv")


def add_query_parser(
    subparsers: Any, common_parent: argparse.ArgumentParser
) -> argparse.ArgumentParser:
    """Add ``query`` to ``subparsers`` (from ``add_subparsers``) and return it."""
    parser = subparsers.add_parser(
        "query",
        parents=[common_parent],
        help="run a named dashboard query",
        description="Run a named dashboard query on the store. Without a name, "
        "list the queries and their parameters.",
    )
    parser.add_argument("name", nargs="?", help="the query, e.g. fleet_latency")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="K=V",
        help="set a parameter; times take ISO 8601, epoch ms, now or -1h/-2d",
    )
    parser.add_argument("--format", choices=FORMATS, default="table")
    return parser


def add_dashboard_parser(
    subparsers: Any, common_parent: argparse.ArgumentParser
) -> argparse.ArgumentParser:
    """Add ``dashboard`` to ``subparsers`` and return it."""
    parser = subparsers.add_parser(
        "dashboard",
        parents=[common_parent],
        help="render the dashboard page, or serve it",
        description="Render the named dashboards as one self-contained HTML page.",
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", type=Path, help="write the page to this file")
    target.add_argument(
        "--serve", type=int, metavar="PORT", help="serve the page live on this port"
    )
    parser.add_argument(
        "--bind", default="127.0.0.1", help="address --serve listens on"
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="K=V",
        help="a parameter for every query that has it (e.g. model=ranker)",
    )
    return parser


def query_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``driftline query``; prints to stdout, returns the exit status.

    Raises:
        DriftlineError: an unknown query or parameter, or no way to the store
            (one sentence that says what to do).
    """
    out: TextIO = sys.stdout
    if not args.name:
        out.write(listing())
        return 0
    params = dashboards.parse_assignments(args.param)
    dashboards.bind(dashboards.load(args.name), params)  # fail before any I/O
    source = open_source(settings.clickhouse_dsn, settings.home)
    logger.debug("running %s through %s", args.name, source.describe())
    result = source.run(args.name, params)
    out.write(format_result(result, args.format))
    return 0


def dashboard_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``driftline dashboard``; ``--serve`` blocks until interrupted.

    Raises:
        DriftlineError: a bad parameter or no way to the store.
    """
    params = dashboards.parse_assignments(args.param)
    source = open_source(settings.clickhouse_dsn, settings.home)
    if args.out is not None:
        page = report.render(report.collect(source, params))
        args.out.write_text(page, encoding="utf-8")
        print(f"wrote {args.out}")
        return 0
    server = dashboard_server(
        lambda: open_source(settings.clickhouse_dsn, settings.home),
        params,
        args.bind,
        args.serve,
    )
    print(f"serving the dashboard at http://{args.bind}:{server.server_port}/")
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def dashboard_server(
    source_of: Callable[[], Source],
    params: dict[str, str],
    host: str,
    port: int,
) -> ThreadingHTTPServer:
    """Return an HTTP server (not yet serving) whose ``/`` renders the page
    from a fresh `Source` on every request; the query string adds parameters.
    """

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parsed = urllib.parse.urlsplit(self.path)
            if parsed.path not in ("/", "/index.html"):
                self._send(404, "text/plain", b"not found")
                return
            merged = {**params, **dict(urllib.parse.parse_qsl(parsed.query))}
            try:
                page = report.render(report.collect(source_of(), merged), refresh_s=15)
            except DriftlineError as exc:
                self._send(503, "text/plain; charset=utf-8", str(exc).encode())
                return
            self._send(200, "text/html; charset=utf-8", page.encode())

        def _send(self, status: int, kind: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("dashboard: %s", format % args)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    """Serve ``server`` on a daemon thread (for tests and embedding)."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


def listing() -> str:
    """Return the named queries, their titles and parameters, as text."""
    lines = []
    for name in dashboards.names():
        query = dashboards.load(name)
        lines.append(f"{name} — {query.title}")
        for param in query.params.values():
            lines.append(
                f"    --param {param.name}=…  {param.type}, default "
                f"{param.default}: {param.description}"
            )
    return "\n".join(lines) + "\n"


def format_result(result: dashboards.Result, fmt: str) -> str:
    """Return ``result`` as an aligned text table, a JSON array of objects,
    or CSV with a header row.

    Raises:
        ConfigError: an unknown format.
    """
    if fmt == "json":
        return json.dumps(result.as_dicts(), indent=2) + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([[_cell(v) for v in row] for row in result.rows])
        return buffer.getvalue()
    if fmt != "table":
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if not result.rows:
        return f"({result.name}: no rows)\n"
    cells = [result.columns, *[[_cell(v) for v in row] for row in result.rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(result.columns))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return json.dumps(value)
    return str(value)
