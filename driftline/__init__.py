"""driftline: streaming latency and drift telemetry for ML serving fleets.

This package holds what ties the folders together: the console script
(`driftline.cli`), configuration (`driftline.config`) and the project's
exception hierarchy (`driftline.errors`).
"""

__version__ = "0.1.0"
