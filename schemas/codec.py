"""Schemaless Avro encoding with fastavro for the driftline topics.

Values on driftline topics are plain Avro binary (no container header, no
registry prefix): the writer and reader schema are the ``.avsc`` file of the
topic, kept in this folder. A decode must consume the whole value; bytes left
over mean the value was not written with this schema, and are an error, since
Avro itself carries no magic number to tell garbage from a record.

Example:
    >>> from schemas import DEADLETTER
    >>> letter = {"source_topic": "driftline.spans", "source_partition": 0,
    ...           "source_offset": 7, "key": None, "payload": b"\\x00",
    ...           "reason": "undecodable", "detail": "short read",
    ...           "record_timestamp_ms": 0, "stage": "latency.decode"}
    >>> DEADLETTER.decode(DEADLETTER.encode(letter)) == letter
    True
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import fastavro

from driftline.errors import SchemaError

_HERE = Path(__file__).resolve().parent


class Codec:
    """Encoder and decoder for one ``.avsc`` schema in this folder.

    Args:
        name: the schema file's stem, e.g. ``"span"``.
    """

    def __init__(self, name: str) -> None:
        path = _HERE / f"{name}.avsc"
        self.name = name
        self.raw_schema: dict[str, Any] = json.loads(path.read_text())
        self.schema = fastavro.parse_schema(self.raw_schema)

    def __repr__(self) -> str:
        return f"Codec({self.name!r})"

    def encode(self, record: Mapping[str, Any]) -> bytes:
        """Encode one record.

        Raises:
            SchemaError: the record does not fit the schema (a missing field, a
                wrong type); the message names the schema.
        """
        buf = io.BytesIO()
        try:
            fastavro.schemaless_writer(buf, self.schema, record)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise SchemaError(
                f"record does not fit schema {self.name!r}: {exc}"
            ) from exc
        return buf.getvalue()

    def decode(self, data: bytes) -> dict[str, Any]:
        """Decode one value written with this schema.

        Raises:
            SchemaError: the bytes are truncated, malformed, or longer than one
                record; ``exc.raw`` holds them for the dead-letter topic.
        """
        buf = io.BytesIO(data)
        try:
            record = fastavro.schemaless_reader(buf, self.schema, None)
        except Exception as exc:  # fastavro raises many kinds on garbage
            raise SchemaError(
                f"value is not a {self.name!r} record: {type(exc).__name__}: {exc}",
                raw=data,
            ) from exc
        if buf.tell() != len(data):
            raise SchemaError(
                f"value is not a {self.name!r} record: {len(data) - buf.tell()} "
                f"bytes left over after one record of {buf.tell()} bytes",
                raw=data,
            )
        if not isinstance(record, dict):
            raise SchemaError(f"value is not a {self.name!r} record", raw=data)
        return record

    def decode_many(
        self, values: Iterable[bytes]
    ) -> tuple[list[dict[str, Any]], list[tuple[int, SchemaError]]]:
        """Decode a batch, keeping going past bad values.

        Returns:
            The decoded records in input order, and for each value that failed,
            its position in the input and the error.
        """
        records: list[dict[str, Any]] = []
        errors: list[tuple[int, SchemaError]] = []
        for i, value in enumerate(values):
            try:
                records.append(self.decode(value))
            except SchemaError as exc:
                errors.append((i, exc))
        return records, errors


SPAN = Codec("span")
SIGNAL = Codec("signal")
ROLLBACK = Codec("rollback")
DEADLETTER = Codec("deadletter")
FEATURE_SAMPLE = Codec("feature_sample")
DEPLOYMENT = Codec("deployment")
PROFILE = Codec("profile")
