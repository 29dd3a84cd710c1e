"""Turn caller input into the float64 arrays the sketches consume.

Contract: any of a numpy array, a pandas Series or Index, a list, or a scalar
becomes one contiguous 1-D float64 array; ``None`` and pandas' missing markers
become NaN. The caller then separates finite from non-finite values. This
module never copies an array that is already contiguous float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sketches.errors import SketchError


def as_float_array(values: Any) -> np.ndarray:
    """Return ``values`` as a contiguous 1-D float64 array.

    Args:
        values: numpy array, pandas Series/Index, sequence or scalar.

    Returns:
        A flattened float64 view or copy; NaN where the input held None or a
        pandas missing value.

    Raises:
        SketchError: if an element cannot be read as a number.
    """
    if isinstance(values, np.ndarray) and values.dtype == np.float64:
        return np.ascontiguousarray(values.ravel())
    try:
        if hasattr(values, "to_numpy"):
            array = values.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SketchError(f"values must be numeric, got {values!r:.80}") from exc
    return np.ascontiguousarray(array.ravel())


def split_finite(array: np.ndarray) -> tuple[np.ndarray, int]:
    """Split a float64 array into its finite values and a count of the rest.

    Args:
        array: contiguous float64 array.

    Returns:
        ``(finite_values, n_invalid)``; ``finite_values`` is ``array`` itself
        when every value is finite (the common case costs one pass).
    """
    finite = np.isfinite(array)
    if finite.all():
        return array, 0
    kept = array[finite]
    return kept, int(array.size - kept.size)
