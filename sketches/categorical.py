"""`CategoricalSketch`: mergeable category frequencies with a stated bound.

Built on the DataSketches frequent-items sketch (Misra–Gries with a purge
step; Anderson et al., "A High-Performance Algorithm for Identifying Frequent
Items in Data Streams", IMC 2017). Items are stored by their ``str()``.

Contract:
    * Exact below the cardinality cap: while fewer than
      ``0.75 * 2**lg_max_map_size`` distinct items have been seen (768 with
      the default ``lg_max_map_size=10``), every count is exact and
      `CategoricalSketch.is_exact` is True.
    * Past the cap, each reported count ``c`` of an item satisfies
      ``lower <= true count <= upper`` with ``upper - lower <= ε·n``,
      ``ε = 3.5 / 2**lg_max_map_size``, deterministically (no confidence
      level); items whose count is below the error are dropped, and their
      mass shows up as "other" in comparisons.
    * ``update`` takes a whole array; None, NaN and ±inf are counted in
      `CategoricalSketch.n_invalid` and never enter the sketch.
    * ``to_bytes()`` is one format-version byte, the invalid count (u64 LE)
      and the DataSketches image; pickling goes through those bytes.
    * An empty sketch reports ``n == 0`` and an empty `frequencies` dict.
"""

from __future__ import annotations

import struct
from typing import Any

import datasketches
import numpy as np

from sketches.errors import SketchError

DEFAULT_LG_MAX_MAP_SIZE = 10
FORMAT_VERSION = 1
_HEADER = struct.Struct("<BQ")
_NO_FALSE_NEGATIVES = datasketches.frequent_items_error_type.NO_FALSE_NEGATIVES

CategoryTable = dict[str, tuple[int, int, int]]
"""Item → (estimate, lower bound, upper bound) of its count."""


class CategoricalSketch:
    """Mergeable frequencies of a categorical stream.

    Args:
        lg_max_map_size: log2 of the item map size, 3..26; exact up to
            ``0.75 * 2**lg_max_map_size`` distinct items.

    Raises:
        SketchError: if ``lg_max_map_size`` is outside 3..26.

    Example:
        >>> sketch = CategoricalSketch()
        >>> sketch.update(["a", "b", "a", None])
        >>> sketch.n, sketch.n_invalid, sketch.frequencies()
        (3, 1, {'a': 2, 'b': 1})
    """

    __slots__ = ("_n_invalid", "_sketch", "_table")

    def __init__(self, lg_max_map_size: int = DEFAULT_LG_MAX_MAP_SIZE) -> None:
        if not 3 <= int(lg_max_map_size) <= 26:
            raise SketchError(
                f"lg_max_map_size must be in 3..26, got {lg_max_map_size!r}"
            )
        self._sketch = datasketches.frequent_strings_sketch(int(lg_max_map_size))
        self._n_invalid = 0
        self._table: CategoryTable | None = None

    def update(self, values: Any) -> None:
        """Add a batch of categories (array, Series, list or scalar).

        Counting is vectorized (pandas ``value_counts``); the sketch receives
        one weighted update per distinct item.
        """
        import pandas as pd

        series = values if isinstance(values, pd.Series) else pd.Series(values)
        if series.dtype.kind == "f":
            valid = np.isfinite(series.to_numpy())
            invalid = int(series.size - valid.sum())
            series = series[valid]
        else:
            invalid = int(series.isna().sum())
        counts = series.value_counts(dropna=True, sort=False)
        self._n_invalid += invalid
        for item, count in zip(counts.index, counts.to_numpy(), strict=True):
            self._sketch.update(str(item), int(count))
        if len(counts):
            self._table = None

    def merge(self, other: CategoricalSketch) -> CategoricalSketch:
        """Fold ``other`` in and return ``self``.

        Raises:
            SketchError: if ``other`` is not a `CategoricalSketch`.
        """
        if not isinstance(other, CategoricalSketch):
            raise SketchError(
                f"cannot merge {type(other).__name__} into CategoricalSketch"
            )
        self._n_invalid += other._n_invalid
        if not other._sketch.is_empty():
            self._sketch.merge(other._sketch)
            self._table = None
        return self

    @property
    def n(self) -> int:
        """Number of valid items summarized."""
        return int(self._sketch.total_weight)

    @property
    def n_invalid(self) -> int:
        """Number of None, NaN and ±inf values seen and skipped."""
        return self._n_invalid

    @property
    def is_exact(self) -> bool:
        """True while every count is exact (below the cardinality cap)."""
        return all(low == high for _, low, high in self.table().values())

    @property
    def max_error(self) -> int:
        """Largest ``upper - lower`` over tracked items; 0 while exact."""
        table = self.table()
        return max((high - low for _, low, high in table.values()), default=0)

    def frequencies(self) -> dict[str, int]:
        """Estimated count per tracked item (exact while `is_exact`)."""
        return {item: est for item, (est, _, _) in self.table().items()}

    def table(self) -> CategoryTable:
        """Item → (estimate, lower, upper) count bounds; cached until changed."""
        if self._table is None:
            rows = self._sketch.get_frequent_items(_NO_FALSE_NEGATIVES, 0)
            self._table = {row[0]: (row[1], row[2], row[3]) for row in rows}
        return self._table

    def to_bytes(self) -> bytes:
        """Serialize: version byte, u64 invalid count, DataSketches image."""
        return _HEADER.pack(FORMAT_VERSION, self._n_invalid) + self._sketch.serialize()

    @classmethod
    def from_bytes(cls, data: bytes) -> CategoricalSketch:
        """Rebuild a sketch from `to_bytes` output.

        Raises:
            SketchError: if ``data`` is too short, has an unknown format
                version, or is not a frequent-strings image.
        """
        if len(data) <= _HEADER.size:
            raise SketchError(f"CategoricalSketch bytes too short: {len(data)} bytes")
        version, n_invalid = _HEADER.unpack_from(data)
        if version != FORMAT_VERSION:
            raise SketchError(
                f"CategoricalSketch format version {version!r} is not supported; "
                f"this build reads version {FORMAT_VERSION}"
            )
        try:
            inner = datasketches.frequent_strings_sketch.deserialize(
                bytes(data[_HEADER.size :])
            )
        except (RuntimeError, ValueError, IndexError) as exc:
            raise SketchError(
                f"bytes do not hold a frequent-items sketch: {exc}"
            ) from exc
        sketch = cls.__new__(cls)
        sketch._sketch = inner
        sketch._n_invalid = int(n_invalid)
        sketch._table = None
        return sketch

    def __getstate__(self) -> bytes:
        return self.to_bytes()

    def __setstate__(self, state: bytes) -> None:
        restored = CategoricalSketch.from_bytes(state)
        self._sketch = restored._sketch
        self._n_invalid = restored._n_invalid
        self._table = None

    def __repr__(self) -> str:
        return (
            f"CategoricalSketch(n={self.n}, n_invalid={self.n_invalid}, "
            f"items={len(self.table())}, max_error={self.max_error})"
        )
