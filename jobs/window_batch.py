"""One window's raw Kafka records, as a vectorized aggregate receives them.

`WindowBatch` carries the values and the Kafka metadata that describe them
(key, partition, offset, timestamp). Its `WindowBatch.records` decodes each
value once with a schema; a value that does not decode — or, via
`WindowBatch.reject`, one that decodes to something unusable — becomes an
encoded `DeadLetter` in `WindowBatch.dead_letters` with its original bytes,
so the aggregate never drops a record silently and never raises on one.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import fastavro

from schemas import DEADLETTER, Codec


@dataclass
class WindowBatch:
    """A window's values and their metadata, aligned by position."""

    payloads: Sequence[Any]
    keys: Sequence[Any]
    partitions: Sequence[Any]
    offsets: Sequence[Any]
    timestamps_ms: Sequence[Any]
    source_topic: str
    stage: str
    dead_letters: list[bytes] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.payloads)

    def records(
        self, codec: Codec, record_name: str
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        """Yield ``(position, record)`` for every value that decodes whole."""
        schema = codec.schema
        reader = fastavro.schemaless_reader
        for i, raw in enumerate(self.payloads):
            value = bytes(raw)
            buf = io.BytesIO(value)
            try:
                record = cast(dict, reader(buf, schema, None))
                if buf.tell() != len(value):
                    raise ValueError(f"{len(value) - buf.tell()} bytes left over")
            except Exception as exc:  # fastavro raises many kinds on garbage
                self.reject(
                    i,
                    "undecodable",
                    f"not a {record_name}: {type(exc).__name__}: {exc}",
                )
                continue
            yield i, record

    def reject(self, i: int, reason: str, detail: str) -> None:
        """Turn the value at position ``i`` into a dead letter."""
        key = self.keys[i]
        self.dead_letters.append(
            DEADLETTER.encode(
                {
                    "source_topic": self.source_topic,
                    "source_partition": int(self.partitions[i]),
                    "source_offset": int(self.offsets[i]),
                    "key": None if key is None else bytes(key),
                    "payload": bytes(self.payloads[i]),
                    "reason": reason,
                    "detail": detail,
                    "record_timestamp_ms": int(self.timestamps_ms[i]),
                    "stage": self.stage,
                }
            )
        )
