"""Settings every command shares, from flags, environment and one file.

Precedence, highest first: command-line flags, ``DRIFTLINE_*`` environment
variables, the config file, built-in defaults. The config file is
``$DRIFTLINE_HOME/driftline.toml`` unless ``DRIFTLINE_CONFIG`` names another::

    kafka_bootstrap = "broker-1:9092"
    clickhouse_dsn = "https://ch.example:8443/driftline"

    [kafka_properties]          # passed to every Kafka client untouched
    "security.protocol" = "SASL_SSL"
    "sasl.mechanism" = "PLAIN"

``kafka_properties`` may hold credentials: it is never logged or printed.

State lives under ``DRIFTLINE_HOME`` (default ``~/.driftline``): the local
broker's data, PIDs and logs in ``kafka/``, job logs in ``logs/``, and the
embedded ClickHouse store in ``clickhouse/`` (the default DSN is
``chdb://$DRIFTLINE_HOME/clickhouse``).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftline.errors import ConfigError

ENV_HOME = "DRIFTLINE_HOME"
ENV_BOOTSTRAP = "DRIFTLINE_KAFKA_BOOTSTRAP"
ENV_DSN = "DRIFTLINE_CLICKHOUSE_DSN"
ENV_CONFIG = "DRIFTLINE_CONFIG"


@dataclass(frozen=True)
class Settings:
    """Resolved settings; `kafka_bootstrap` is None until a broker is known."""

    home: Path
    kafka_bootstrap: str | None
    clickhouse_dsn: str
    kafka_properties: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"


def default_home() -> Path:
    return Path.home() / ".driftline"


def load_settings(
    *,
    home: str | None = None,
    bootstrap: str | None = None,
    dsn: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve settings; arguments are the command-line flags (None = unset).

    Raises:
        ConfigError: the config file is not valid TOML or has a wrong type.
    """
    env = os.environ if environ is None else environ
    home_path = Path(home or env.get(ENV_HOME) or default_home()).expanduser().resolve()
    config_path = Path(env.get(ENV_CONFIG) or home_path / "driftline.toml")
    file_values = _read_file(config_path)
    props = file_values.get("kafka_properties", {})
    if not isinstance(props, dict):
        raise ConfigError(
            f"[kafka_properties] in {config_path} must be a table, "
            f"got {type(props).__name__}"
        )
    resolved_bootstrap = (
        bootstrap or env.get(ENV_BOOTSTRAP) or file_values.get("kafka_bootstrap")
    )
    resolved_dsn = (
        dsn
        or env.get(ENV_DSN)
        or file_values.get("clickhouse_dsn")
        or f"chdb://{home_path / 'clickhouse'}"
    )
    return Settings(
        home=home_path,
        kafka_bootstrap=resolved_bootstrap,
        clickhouse_dsn=str(resolved_dsn),
        kafka_properties={str(k): str(v) for k, v in props.items()},
    )


def _read_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc


LOADER_ROLES = ("signals", "rollbacks", "deadletter", "profiles")


def loader_topics(names: Mapping[str, str]) -> dict[str, str]:
    """The topics of a role → name set that the loader consumes."""
    return {role: names[role] for role in LOADER_ROLES}
