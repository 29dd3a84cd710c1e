"""Named dashboard queries: the SQL files in ``dashboards/`` beside this module.

Each file ``dashboards/<name>.sql`` is one dashboard's query and its contract.
It opens with a comment header::

    -- title: Fleet latency by version
    -- What the rows are, in a few lines.
    -- Parameters:
    --   model (default NULL) only this model; NULL for every model

and its body uses each parameter as a typed ClickHouse placeholder,
``{model:Nullable(String)}``, which clickhouse-connect binds on the server:
values are never pasted into the SQL text. Every parameter in the body is
declared in the header with a default, and every declared one is used.

`run` binds a query's defaults, overridden by the caller's values, and returns
a `Result` whose rows hold only JSON values (times as ISO 8601 UTC strings
ending in ``Z``, non-finite floats as None), so the same rows come back whether
they were read from the store or through the loader's query endpoint
(`sinks.serve`). A store without matching rows returns no rows, not an error.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

from clickhouse_connect.driver.client import Client

from driftline.errors import ConfigError

PLACEHOLDER = re.compile(r"\{(\w+):([^{}]+?)\}")
"""A typed server-side parameter, ``{name:Type}``; Type may nest parentheses."""

_PARAM_LINE = re.compile(r"^--\s+(\w+)\s+\(default (.*?)\)\s+(.*)$")
_RELATIVE = re.compile(r"^-(\d+(?:\.\d+)?)([smhdw])$")
_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class Param:
    """One declared parameter of a named query.

    Attributes:
        name: The placeholder's name.
        type: Its ClickHouse type, e.g. ``Nullable(DateTime64(3, 'UTC'))``.
        default: The default as written in the header (``NULL``, ``1.5``).
        description: What it filters, from the header.
    """

    name: str
    type: str
    default: str
    description: str


@dataclass(frozen=True)
class NamedQuery:
    """A dashboard query loaded from ``dashboards/<name>.sql``.

    Attributes:
        name: The file's stem.
        title: The header's title line.
        description: The header's prose, joined into one paragraph.
        params: Declared parameters by name, in header order.
        body: The SQL after the header, placeholders untouched.
    """

    name: str
    title: str
    description: str
    params: dict[str, Param]
    body: str

    def defaults(self) -> dict[str, Any]:
        """Return every parameter bound to its typed default."""
        return {p.name: convert(p, p.default) for p in self.params.values()}


@dataclass
class Result:
    """Rows of a named query with JSON-ready values.

    Attributes:
        name: The named query that produced them.
        columns: Column names, in order.
        types: ClickHouse type names of the columns.
        rows: One list of values per row.
    """

    name: str
    columns: list[str]
    types: list[str]
    rows: list[list[Any]] = field(default_factory=list)

    def as_dicts(self) -> list[dict[str, Any]]:
        """Return the rows as dicts keyed by column name."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def to_json(self) -> dict[str, Any]:
        """Return the result as one JSON-ready object."""
        return {
            "name": self.name,
            "columns": self.columns,
            "types": self.types,
            "rows": self.rows,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Result:
        """Rebuild a result from `to_json` output."""
        return cls(
            str(data["name"]),
            list(data["columns"]),
            list(data["types"]),
            [list(row) for row in data["rows"]],
        )


def names() -> list[str]:
    """Return the names of every shipped dashboard query, sorted.

    >>> "fleet_latency" in names()
    True
    """
    folder = resources.files("sinks").joinpath("dashboards")
    return sorted(
        entry.name[: -len(".sql")]
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    )


@cache
def load(name: str) -> NamedQuery:
    """Return the named query ``name``.

    Raises:
        ConfigError: no such query, or its header and body disagree about
            its parameters.
    """
    if name not in names():
        raise ConfigError(
            f"no dashboard query named {name!r}; choose one of {', '.join(names())}"
        )
    text = resources.files("sinks").joinpath("dashboards", f"{name}.sql").read_text()
    return parse(name, text)


def parse(name: str, text: str) -> NamedQuery:
    """Parse one dashboard file's text; see the module docstring for its shape.

    Raises:
        ConfigError: no title, a parameter used but not declared, declared but
            not used, or used with two different types.
    """
    lines = text.splitlines()
    header = []
    while lines and lines[0].startswith("--"):
        header.append(lines.pop(0))
    body = "\n".join(lines).strip() + "\n"
    title, prose, declared = "", [], {}
    in_params = False
    for line in header:
        content = line[2:].strip()
        if content.startswith("title:"):
            title = content[len("title:") :].strip()
        elif content == "Parameters:":
            in_params = True
        elif in_params and (match := _PARAM_LINE.match(line)):
            declared[match.group(1)] = (match.group(2), match.group(3))
        elif not in_params:
            prose.append(content)
    if not title:
        raise ConfigError(f"dashboard query {name!r} has no '-- title:' line")
    types: dict[str, str] = {}
    for pname, ptype in PLACEHOLDER.findall(body):
        if types.setdefault(pname, ptype) != ptype:
            raise ConfigError(
                f"dashboard query {name!r} uses parameter {pname!r} as both "
                f"{types[pname]!r} and {ptype!r}; use one type"
            )
    if set(types) != set(declared):
        raise ConfigError(
            f"dashboard query {name!r} declares parameters {sorted(declared)!r} "
            f"but uses {sorted(types)!r}; declare each one it uses"
        )
    params = {
        pname: Param(pname, types[pname], default, description)
        for pname, (default, description) in declared.items()
    }
    return NamedQuery(name, title, " ".join(prose), params, body)


def convert(param: Param, raw: str | None, now: datetime | None = None) -> Any:
    """Turn a text value into the Python value the driver binds for ``param``.

    ``NULL`` (any case), an empty string or None give None for a Nullable
    type. Times accept ISO 8601 (a naive one is taken as UTC), epoch
    milliseconds, ``now`` and ``-<n><unit>`` before ``now`` with unit one of
    s, m, h, d, w (``-90m``, ``-2d``).

    Raises:
        ConfigError: the value does not fit the type.

    >>> p = Param("top", "UInt32", "20", "")
    >>> convert(p, "5")
    5
    >>> t = Param("since", "Nullable(DateTime64(3, 'UTC'))", "NULL", "")
    >>> convert(t, "2024-05-01T03:12:00Z").isoformat()
    '2024-05-01T03:12:00+00:00'
    >>> convert(t, "null") is None
    True
    """
    inner, nullable = _unwrap(param.type)
    if raw is None or raw == "" or raw.upper() == "NULL":
        if nullable:
            return None
        raise ConfigError(
            f"parameter {param.name!r} of type {param.type} needs a value, got {raw!r}"
        )
    try:
        if inner.startswith("DateTime"):
            return _time(raw, now)
        if inner == "Bool":
            return raw.lower() in ("1", "true", "yes")
        if inner.startswith(("Int", "UInt")):
            return int(raw)
        if inner.startswith(("Float", "Decimal")):
            return float(raw)
    except ValueError:
        raise ConfigError(
            f"parameter {param.name!r} must be a {inner}, got {raw!r}"
        ) from None
    return raw


def bind(
    query: NamedQuery, raw: Mapping[str, str], now: datetime | None = None
) -> dict[str, Any]:
    """Return every parameter of ``query``: its default unless ``raw`` sets it.

    Raises:
        ConfigError: ``raw`` names a parameter the query does not have, or a
            value does not fit its type.
    """
    unknown = set(raw) - set(query.params)
    if unknown:
        known = ", ".join(query.params) or "none"
        raise ConfigError(
            f"dashboard query {query.name!r} has no parameter "
            f"{sorted(unknown)[0]!r}; its parameters are: {known}"
        )
    bound = query.defaults()
    for pname, value in raw.items():
        bound[pname] = convert(query.params[pname], value, now)
    return bound


def parse_assignments(pairs: Sequence[str]) -> dict[str, str]:
    """Turn ``["k=v", ...]`` (from ``--param k=v``) into a dict.

    Raises:
        ConfigError: an item without ``=``.

    >>> parse_assignments(["model=ranker", "since=-1h"])
    {'model': 'ranker', 'since': '-1h'}
    """
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"--param takes name=value, got {pair!r}; write e.g. --param "
                "model=ranker"
            )
        result[key.strip()] = value
    return result


def run(
    client: Client,
    name: str,
    raw: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> Result:
    """Run the named query ``name`` on ``client`` with text parameter values.

    Args:
        client: An open store (`sinks.store.open_store`).
        name: A name from `names`.
        raw: Parameter name → text value, converted by `convert`; the rest
            keep their defaults.
        now: The time relative values count back from; the current time when
            None.

    Raises:
        ConfigError: an unknown query or parameter, or a bad value.
        clickhouse_connect.driver.exceptions.ClickHouseError: the store
            refused the query.
    """
    query = load(name)
    parameters = bind(query, raw or {}, now)
    result = client.query(query.body, parameters=parameters)
    return Result(
        name,
        list(result.column_names),
        [t.name for t in result.column_types],
        [[jsonable(v) for v in row] for row in result.result_rows],
    )


def jsonable(value: Any) -> Any:
    """Return ``value`` as a JSON value: times as ISO 8601 UTC text ending in
    ``Z``, non-finite floats as None, bytes as hex, lists element-wise.

    >>> jsonable(datetime(2024, 5, 1, 3, 12, tzinfo=UTC))
    '2024-05-01T03:12:00.000Z'
    >>> jsonable(float("nan")) is None
    True
    """
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        text = aware.astimezone(UTC).isoformat(timespec="milliseconds")
        return text.replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _unwrap(type_name: str) -> tuple[str, bool]:
    if type_name.startswith("Nullable(") and type_name.endswith(")"):
        return type_name[len("Nullable(") : -1], True
    return type_name, False


def _time(raw: str, now: datetime | None) -> datetime:
    now = now or datetime.now(UTC)
    text = raw.strip()
    if text.lower() == "now":
        return now
    if match := _RELATIVE.match(text):
        seconds = float(match.group(1)) * _UNITS_S[match.group(2)]
        return now - timedelta(seconds=seconds)
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
