"""Errors raised by the sketches package.

`SketchError` is raised for invalid arguments (a rank outside [0, 1], a bad
``k``), for bytes that are not a sketch of the expected type and format
version, and for comparing sketches of different kinds. Queries on an empty
sketch never raise: they return NaN as documented on each method.
"""

from driftline.errors import DriftlineError


class SketchError(DriftlineError):
    """A sketch was built, merged, decoded or compared with invalid input."""
