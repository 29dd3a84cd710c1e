"""The connector jars PyFlink jobs load, from the jar cache.

PyFlink's wheel carries Flink itself but no connectors. Jobs pass the paths
returned here as ``pipeline.jars`` (``file://`` URLs, joined with ``;``); the
same list works for a local mini-cluster and for ``flink run``. The set is
defined by ``infra/maven/flink-connectors.xml`` and matches apache-flink 2.2.x.
"""

from __future__ import annotations

from pathlib import Path

from infra.jars import jar_paths

CONNECTOR_SET = "flink-connectors"
"""Name of the jar set (and pom) holding the Flink connectors."""


def connector_jars() -> list[Path]:
    """Return the connector jars, resolving them into the cache on first use.

    Returns:
        Absolute paths, sorted; today one jar, the shaded
        ``flink-sql-connector-kafka`` build for Flink 2.2.

    Raises:
        PrerequisiteError: The jars are not cached yet and ``mvn`` is missing.
        ServiceError: Maven failed to resolve them.
    """
    return [path.resolve() for path in jar_paths(CONNECTOR_SET)]


def pipeline_jars_value() -> str:
    """Return `connector_jars` as the string Flink's ``pipeline.jars`` expects.

    Raises:
        PrerequisiteError, ServiceError: As `connector_jars`.
    """
    return ";".join(path.as_uri() for path in connector_jars())
