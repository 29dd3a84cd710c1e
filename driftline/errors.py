"""The project's exceptions: one root and a few specific kinds.

Every error driftline raises on purpose derives from `DriftlineError`, so a
caller can catch the project's failures without swallowing a library's bugs.
Messages name the broken constraint, show the bad value with ``!r`` and, for
anything an operator can fix, end with the fix.
"""


class DriftlineError(Exception):
    """Root of every error driftline raises on purpose."""


class ConfigError(DriftlineError):
    """A flag, environment variable or config-file entry has a bad value."""


class PrerequisiteError(DriftlineError):
    """Something the command needs is missing on this machine (java, mvn, a
    free port, a running broker); the message says how to get it."""


class ServiceError(DriftlineError):
    """A service driftline started or connects to did not behave (a broker
    that never came up, a store that refused a write)."""


class SchemaError(DriftlineError):
    """A record does not match its Avro schema: it cannot be encoded, or its
    bytes cannot be decoded. Carries the raw bytes for the dead-letter topic.
    """

    def __init__(self, message: str, raw: bytes | None = None) -> None:
        super().__init__(message)
        self.raw = raw
