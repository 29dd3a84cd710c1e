"""The hot-path aggregate body: decode, sketch, and turn bad values into dead
letters without losing them."""

from __future__ import annotations

import math

from jobs.shard_window import STAGE, build_shard_window
from jobs.window_batch import WindowBatch
from schemas import DEADLETTER, SPAN
from sketches import NumericSketch


def span(duration_ms: float, *, replica: str = "r1", is_error: bool = False) -> bytes:
    return SPAN.encode(
        {
            "trace_id": "0" * 32,
            "span_id": "0" * 16,
            "name": "predict",
            "start_ms": 0,
            "end_ms": 1,
            "duration_ms": duration_ms,
            "ttft_ms": duration_ms / 4,
            "model": "m",
            "version": "v1",
            "replica": replica,
            "shard": "s00",
            "is_error": is_error,
            "attributes": {},
        }
    )


def run(payloads: list[bytes]):
    size = len(payloads)
    batch = WindowBatch(
        payloads,
        [b"k"] * size,
        [3] * size,
        list(range(100, 100 + size)),
        [1_000] * size,
        "driftline.spans",
        STAGE,
    )
    return build_shard_window(batch)


def test_valid_spans_build_duration_and_ttft_sketches() -> None:
    row = run([span(10.0), span(20.0, replica="r2"), span(30.0)])
    assert (row.n, row.n_error, row.replicas, row.dead_letters) == (3, 0, 2, [])
    sketch = NumericSketch.from_bytes(row.sketch)
    assert sketch.quantiles([0.5]).tolist() == [20.0]
    assert NumericSketch.from_bytes(row.ttft_sketch).max == 7.5


def test_error_spans_are_counted_but_kept_out_of_the_latency_sketch() -> None:
    row = run([span(10.0), span(9999.0, is_error=True)])
    assert (row.n, row.n_error) == (1, 1)
    assert NumericSketch.from_bytes(row.sketch).max == 10.0


def test_undecodable_values_become_dead_letters_with_their_bytes() -> None:
    garbage = b"\x01\x02not avro"
    row = run([span(10.0), garbage, span(12.0) + b"\x00"])
    assert row.n == 1
    letters = [DEADLETTER.decode(raw) for raw in row.dead_letters]
    assert [(d["payload"], d["reason"], d["source_offset"]) for d in letters] == [
        (garbage, "undecodable", 101),
        (span(12.0) + b"\x00", "undecodable", 102),
    ]
    assert letters[0]["source_partition"] == 3
    assert letters[0]["key"] == b"k"


def test_non_finite_or_negative_durations_are_rejected_as_invalid() -> None:
    row = run([span(math.nan), span(-1.0), span(5.0)])
    assert row.n == 1
    reasons = [DEADLETTER.decode(raw)["reason"] for raw in row.dead_letters]
    assert reasons == ["invalid-value", "invalid-value"]


def test_an_empty_window_gives_an_empty_sketch() -> None:
    row = run([])
    assert (row.n, row.ttft_sketch, row.dead_letters) == (0, b"", [])
    assert NumericSketch.from_bytes(row.sketch).is_empty
