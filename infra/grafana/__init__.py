"""Grafana for a ClickHouse server: provisioning files and the driftline
dashboard, built from the named queries in ``sinks/dashboards``.

See `infra.grafana.build`.
"""
