"""Reference profiles: sketches of a model version's training or validation
data, registered on the compacted ``driftline.profiles`` topic.

`build_profile` sketches every column of a data set (numeric columns into a
`NumericSketch`, text, category and boolean columns into a `CategoricalSketch`;
a column named ``prediction`` is compared like any feature). `publish_profile`
writes it keyed by ``model/version``, so the topic keeps the latest profile of
each version; the stream job applies it without a restart and the loader
stores it in ClickHouse. `list_profiles` reads the topic back.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from confluent_kafka import Consumer, KafkaError, Producer

from driftline.errors import ConfigError, ServiceError
from schemas import PROFILE
from sketches import CategoricalSketch, NumericSketch


def read_frame(path: Path) -> pd.DataFrame:
    """Read a Parquet or CSV file.

    Raises:
        ConfigError: the file is missing, of another type, or unreadable.
    """
    if not path.is_file():
        raise ConfigError(f"profile data file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if suffix in (".csv", ".txt"):
            return pd.read_csv(path)
    except (ValueError, OSError) as exc:
        raise ConfigError(f"cannot read profile data {str(path)!r}: {exc}") from exc
    raise ConfigError(
        f"profile data must be .parquet or .csv, got {path.name!r}; convert it first"
    )


def build_profile(
    frame: pd.DataFrame, *, model: str, version: str, source: str, k: int | None = None
) -> dict[str, Any]:
    """Sketch every column of ``frame`` into a `ReferenceProfile` record.

    Raises:
        ConfigError: the frame has no rows.
    """
    if frame.empty:
        raise ConfigError(f"profile data {source!r} has no rows")
    numeric: dict[str, bytes] = {}
    categorical: dict[str, bytes] = {}
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(
            column
        ):
            cat = CategoricalSketch()
            cat.update(column.astype("object").where(column.notna(), None).to_numpy())
            categorical[str(name)] = cat.to_bytes()
        else:
            sketch = NumericSketch() if k is None else NumericSketch(k)
            sketch.update(column.to_numpy(dtype="float64", na_value=float("nan")))
            numeric[str(name)] = sketch.to_bytes()
    digest = hashlib.sha256()
    for name in sorted(numeric):
        digest.update(name.encode() + numeric[name])
    for name in sorted(categorical):
        digest.update(name.encode() + categorical[name])
    return {
        "profile_id": f"{model}/{version}/{digest.hexdigest()[:16]}",
        "model": model,
        "version": version,
        "created_ms": int(time.time() * 1000),
        "source": source,
        "n": len(frame),
        "numeric": numeric,
        "categorical": categorical,
    }


def publish_profile(
    bootstrap: str,
    topic: str,
    profile: Mapping[str, Any],
    *,
    kafka_properties: Mapping[str, str] | None = None,
    timeout_s: float = 15.0,
) -> None:
    """Write one profile, keyed ``model/version``, and wait for the broker.

    Raises:
        ServiceError: the broker did not acknowledge it in time.
    """
    producer = Producer(
        {
            **dict(kafka_properties or {}),
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "message.max.bytes": 16 * 1024 * 1024,
        }
    )
    failures: list[str] = []
    producer.produce(
        topic,
        key=f"{profile['model']}/{profile['version']}".encode(),
        value=PROFILE.encode(profile),
        timestamp=int(profile["created_ms"]),
        on_delivery=lambda err, _msg: failures.append(str(err)) if err else None,
    )
    remaining = producer.flush(timeout_s)
    if remaining or failures:
        raise ServiceError(
            f"the profile was not acknowledged by {bootstrap} within {timeout_s:.0f} s"
            f" ({', '.join(failures) or 'no answer'}); check that the broker runs."
        )


def list_profiles(
    bootstrap: str,
    topic: str,
    *,
    kafka_properties: Mapping[str, str] | None = None,
    timeout_s: float = 10.0,
) -> list[dict[str, Any]]:
    """The latest profile of each (model, version), without the sketches."""
    consumer = Consumer(
        {
            **dict(kafka_properties or {}),
            "bootstrap.servers": bootstrap,
            "group.id": f"driftline-profiles-{uuid.uuid4().hex[:12]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    consumer.subscribe([topic])
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    deadline = time.monotonic() + timeout_s
    finished: set[int] = set()
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            assigned = consumer.assignment()
            if message is None:
                if assigned and len(finished) >= len(assigned):
                    break
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    finished.add(message.partition() or 0)
                continue
            record = PROFILE.decode(message.value() or b"")
            latest[(record["model"], record["version"])] = {
                "model": record["model"],
                "version": record["version"],
                "profile_id": record["profile_id"],
                "rows": record["n"],
                "features": len(record["numeric"]) + len(record["categorical"]),
                "source": record["source"],
                "created_ms": record["created_ms"],
            }
    finally:
        consumer.close()
    return [latest[key] for key in sorted(latest)]
