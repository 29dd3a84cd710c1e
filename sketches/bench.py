"""Benchmark: ``python -m sketches.bench [--max-exponent 7]``.

Prints, at 1e4 … 1e7 values: updates per second (ours and raw DataSketches,
and the wrapper's overhead), merges per second (from bytes, as the fleet
stage does), microseconds per `compare` on two sketches for each method
(cached sorted views, and cold), and exact KS on raw arrays against
``scipy.stats.ks_2samp`` (skipped if scipy is absent). Medians of a few
runs; this is a measurement, not a test. Does no I/O besides printing.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import datasketches
import numpy as np

from sketches import NumericSketch, compare, warm_up

METHODS = ("ks", "psi", "js", "wasserstein")


def _median_s(action: Callable[[], object], repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def _bench_size(n: int, rng: np.random.Generator, repeats: int) -> None:
    ref_values, cur_values = rng.normal(size=n), rng.normal(0.01, size=n)

    def ours() -> NumericSketch:
        sketch = NumericSketch()
        sketch.update(ref_values)
        return sketch

    def raw() -> object:
        sketch = datasketches.kll_doubles_sketch(NumericSketch().k)
        sketch.update(ref_values)
        return sketch

    ours_s, raw_s = _median_s(ours, repeats), _median_s(raw, repeats)
    overhead_pct = 100 * (ours_s / raw_s - 1)
    print(
        f"  update: {n / ours_s / 1e6:8.1f} M values/s  (raw datasketches "
        f"{n / raw_s / 1e6:.1f} M/s, wrapper overhead {overhead_pct:+.1f}%)"
    )
    shard_bytes = []
    for shard in np.array_split(ref_values, 64):
        sketch = NumericSketch()
        sketch.update(shard)
        shard_bytes.append(sketch.to_bytes())
    merge_s = _median_s(lambda: NumericSketch.merge_all(shard_bytes), repeats)
    print(
        f"  merge:  {64 / merge_s:10.0f} shard merges/s (from_bytes + merge, 64 shards)"
    )

    reference, current = ours(), NumericSketch()
    current.update(cur_values)
    reference.sorted_view()
    current.sorted_view()
    line = []
    for method in METHODS:

        def run(m: str = method) -> object:
            return compare(reference, current, m)

        warm_s = _median_s(run, 200)
        cold_ref = NumericSketch.from_bytes(reference.to_bytes())
        cold_cur = NumericSketch.from_bytes(current.to_bytes())
        start = time.perf_counter()
        compare(cold_ref, cold_cur, method)
        cold_s = time.perf_counter() - start
        line.append(f"{method} {warm_s * 1e6:.1f} (cold {cold_s * 1e6:.0f})")
    print("  compare µs on two sketches: " + ", ".join(line))
    try:
        import scipy.stats
    except ImportError:
        return
    exact_s = _median_s(lambda: compare(ref_values, cur_values, "ks"), repeats)
    scipy_s = _median_s(lambda: scipy.stats.ks_2samp(ref_values, cur_values), repeats)
    print(
        f"  exact KS on raw arrays {n:.0e} x {n:.0e}: {exact_s * 1e3:.2f} ms "
        f"(scipy.stats.ks_2samp {scipy_s * 1e3:.2f} ms, {scipy_s / exact_s:.1f}x)"
    )


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print one block per size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-exponent", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    warm_up()
    print(
        f"kernel warm-up (compile or load cache): {time.perf_counter() - start:.2f} s"
    )
    rng = np.random.default_rng(0)
    for exponent in range(4, args.max_exponent + 1):
        n = 10**exponent
        print(f"n = {n:.0e} (k = {NumericSketch().k})")
        _bench_size(n, rng, args.repeats if n < 10**7 else 3)


if __name__ == "__main__":
    main()
