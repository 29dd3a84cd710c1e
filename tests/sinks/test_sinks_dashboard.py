"""Dashboards on a store filled by one real pipeline run: every named query
returns rows, the page shows data in each plot in headless Chromium, and
queries reach an embedded store held by a running loader through its
endpoint instead of meeting the lock."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import subprocess
import sys
import textwrap
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from driftline.config import load_settings
from driftline.errors import ConfigError, ServiceError
from sinks import dashboards, report
from sinks.cli_commands import (
    dashboard_command,
    dashboard_server,
    format_result,
    query_command,
    serve_in_thread,
)
from sinks.serve import ENDPOINT_FILE, EndpointSource, StoreSource, open_source
from tests.sinks.conftest import release

CHROMIUM = Path("/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed; run apt-get install -y chromium "
    "to render the page in a real browser",
)
_FIGURE = re.compile(
    r'<figure class="plot"[^>]*data-plot="(\w+)"[^>]*data-points="(\d+)"[^>]*>'
    r"(.*?)</figure>",
    re.S,
)


@pytest.fixture(scope="module")
def results(pipeline_store):
    return report.collect(StoreSource(pipeline_store.dsn))


def test_every_named_dashboard_returns_rows_on_a_real_pipeline_run(results):
    assert set(results) == set(dashboards.names())
    for name, result in results.items():
        assert result.rows, f"{name} returned no rows"


def test_the_run_stored_every_kind_it_produced(pipeline_store):
    loaded = pipeline_store.loaded
    for table in ("latency_windows", "drift_results", "fleet_versions"):
        assert loaded.get(table, 0) > 0, table
    assert loaded.get("rollback_events") == 1
    assert loaded.get("dead_letters", 0) >= 1


def test_parameters_are_bound_not_pasted(pipeline_store):
    source = StoreSource(pipeline_store.dsn)
    hostile = "ranker' OR 1=1 --"
    assert source.run("fleet_latency", {"model": hostile}).rows == []
    assert source.run("fleet_latency", {"model": "ranker"}).rows
    assert source.run("fleet_latency", {"since": "now"}).rows == []
    with pytest.raises(ConfigError, match="no parameter 'shard'"):
        source.run("fleet_latency", {"shard": "s00"})
    with pytest.raises(ConfigError, match="must be a UInt32"):
        source.run("outlying_shards", {"top": "many"})


@needs_chromium
def test_the_rendered_page_shows_data_in_each_plot(results, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(report.render(results), encoding="utf-8")
    assert not re.search(r'(src|href)="', page.read_text())  # nothing fetched
    dom = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'chromium'}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=True,
    ).stdout
    figures = {name: (int(n), body) for name, n, body in _FIGURE.findall(dom)}
    assert set(figures) == set(report.PLOTS)
    for name, (points, body) in figures.items():
        assert points > 0, f"plot {name} has no data"
        assert body.count('class="mark"') == points, name
    assert dom.count('class="rollback"') >= 1  # the marker on the latency plot


def test_dashboard_serve_renders_the_page_from_the_store(pipeline_store):
    server = dashboard_server(
        lambda: StoreSource(pipeline_store.dsn), {}, "127.0.0.1", 0
    )
    serve_in_thread(server)
    try:
        url = f"http://127.0.0.1:{server.server_port}/?model=ranker"
        with urllib.request.urlopen(url, timeout=60) as resp:
            page = resp.read().decode()
    finally:
        server.shutdown()
        server.server_close()
    points = dict((n, int(p)) for n, p, _ in _FIGURE.findall(page))
    assert all(points[name] > 0 for name in report.PLOTS), points
    assert 'http-equiv="refresh"' in page


_LOADER = textwrap.dedent(
    """
    import json, sys, threading
    from pathlib import Path
    from sinks.loader import Loader
    from sinks.serve import serving

    bootstrap, dsn, topics, home = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    loader = Loader(bootstrap, dsn, topics=json.loads(topics),
                    group_id=sys.argv[5], batch_ms=200)
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()),
                     daemon=True).start()
    try:
        with serving(loader, Path(home)):
            loader.run(stop)
    finally:
        loader.close()
    """
)


def test_queries_go_through_a_running_loader_that_holds_the_store(
    pipeline_store, results, tmp_path
):
    home = tmp_path / "home"
    loader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _LOADER,
            pipeline_store.bootstrap,
            pipeline_store.dsn,
            json.dumps(pipeline_store.topics_for_loader),
            str(home),
            f"replay-{uuid.uuid4().hex[:8]}",  # a new group: replays everything
        ],
        stdin=subprocess.PIPE,
        cwd=Path(__file__).parents[2],
    )
    try:
        deadline = time.monotonic() + 60
        while not (home / ENDPOINT_FILE).exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        source = open_source(pipeline_store.dsn, home)
        assert isinstance(source, EndpointSource)
        time.sleep(5)  # let the loader replay the topics into the same rows
        settings = load_settings(home=str(home), dsn=pipeline_store.dsn, environ={})
        for name, before in results.items():
            assert len(source.run(name).rows) == len(before.rows), name
        out = io.StringIO()
        args = argparse.Namespace(name="dead_letters", param=[], format="json")
        with contextlib.redirect_stdout(out):
            assert query_command(args, settings) == 0
        assert json.loads(out.getvalue())[0]["letters"] >= 1
        page = tmp_path / "served.html"
        args = argparse.Namespace(out=page, serve=None, param=["model=ranker"])
        with contextlib.redirect_stdout(io.StringIO()):
            assert dashboard_command(args, settings) == 0
        assert 'data-plot="drift" data-points="0"' not in page.read_text()
    finally:
        release(loader)
    assert not (home / ENDPOINT_FILE).exists()


def test_a_store_held_by_a_process_that_serves_nothing_says_so_in_one_sentence(
    hold_store, tmp_path
):
    folder = tmp_path / "store"
    hold_store(folder)
    source = open_source(f"chdb://{folder}", tmp_path / "home")
    with pytest.raises(ServiceError) as caught:
        source.run("fleet_latency")
    message = str(caught.value)
    assert "does not serve queries" in message and "driftline sink" in message
    assert message.count(". ") == 0 and message.endswith(".")


def test_results_format_as_table_json_and_csv():
    result = dashboards.Result(
        "x", ["reason", "letters"], ["String", "UInt64"], [["late", 2]]
    )
    assert format_result(result, "csv") == "reason,letters\nlate,2\n"
    assert json.loads(format_result(result, "json")) == [
        {"reason": "late", "letters": 2}
    ]
    assert format_result(result, "table").splitlines()[2].split() == ["late", "2"]
