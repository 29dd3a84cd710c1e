"""Avro schemas of every driftline topic and the one codec that reads and
writes them.

The ``.avsc`` files beside this module are the contract between serving
replicas, the stream jobs and the loader; `schemas.codec` is the only code that
turns records into bytes and back.
"""

from schemas.codec import (
    DEADLETTER,
    DEPLOYMENT,
    FEATURE_SAMPLE,
    PROFILE,
    ROLLBACK,
    SIGNAL,
    SPAN,
    Codec,
)

__all__ = [
    "DEADLETTER",
    "DEPLOYMENT",
    "FEATURE_SAMPLE",
    "PROFILE",
    "ROLLBACK",
    "SIGNAL",
    "SPAN",
    "Codec",
]
