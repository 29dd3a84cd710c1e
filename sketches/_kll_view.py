"""Sorted view of a KLL sketch: retained items with their cumulative ranks.

The statistics walk two step functions, so they need each sketch's retained
items in order with the normalized inclusive rank after each item:
``cum[j] = (sum of weights of items <= values[j]) / n``. Iterating the sketch
from Python costs ~0.4 µs per item; reading the serialized image costs a few
microseconds per sketch, so this module reads the image.

Layout read (Apache DataSketches C++ ``kll_sketch`` serial version 1, as
shipped in datasketches 5.2, little-endian): an 8-byte preamble whose byte 3
holds flags (bit 0 empty, bit 2 single item); when neither flag is set,
``n`` (u64), ``min_k`` (u16), ``num_levels`` (u8), one pad byte, then
``num_levels`` u32 level offsets, the min and max items, and the retained
items, level 0 first. An item at level ``h`` stands for ``2**h`` inputs.
`sorted_view` checks the image against the sketch's own counts and falls back
to iteration if they disagree, so a format change costs speed, never
correctness.
"""

from __future__ import annotations

import struct

import numpy as np

_FLAG_EMPTY = 0x01
_FLAG_SINGLE = 0x04
_EMPTY = (np.empty(0, dtype=np.float64), np.empty(0, dtype=np.float64))


def sorted_view(sketch: object, image: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(values, cum_rank)`` for a ``kll_doubles_sketch``.

    Args:
        sketch: the datasketches ``kll_doubles_sketch`` (used for checks).
        image: ``sketch.serialize()``.

    Returns:
        ``values`` sorted ascending and ``cum_rank`` non-decreasing with the
        last entry 1.0; two empty arrays for an empty sketch.
    """
    n_total = int(sketch.n)  # type: ignore[attr-defined]
    if n_total == 0:
        return _EMPTY
    flags = image[3]
    if flags & _FLAG_SINGLE:
        value = struct.unpack_from("<d", image, 8)[0]
        return np.array([value]), np.array([1.0])
    if flags & _FLAG_EMPTY:
        return _EMPTY
    num_levels = image[18]
    levels = np.frombuffer(image, dtype="<u4", count=num_levels, offset=20)
    items_offset = 20 + 4 * num_levels + 16
    items = np.frombuffer(image, dtype="<f8", offset=items_offset)
    bounds = np.append(levels.astype(np.int64) - int(levels[0]), items.size)
    counts = np.diff(bounds)
    weights = np.repeat(2.0 ** np.arange(num_levels), counts)
    if items.size != sketch.num_retained or weights.sum() != n_total:  # type: ignore[attr-defined]
        return _view_by_iteration(sketch)
    order = np.argsort(items, kind="stable")
    cum = np.cumsum(weights[order])
    return items[order], cum / cum[-1]


def _view_by_iteration(sketch: object) -> tuple[np.ndarray, np.ndarray]:
    pairs = np.array(list(sketch), dtype=np.float64)  # type: ignore[call-overload]
    order = np.argsort(pairs[:, 0], kind="stable")
    cum = np.cumsum(pairs[order, 1])
    return np.ascontiguousarray(pairs[order, 0]), cum / cum[-1]
