"""The Kafka → ClickHouse loader, the store's table DDL and dashboard queries.

`sinks.store` opens the store from a DSN (embedded ``chdb://`` or a server),
`sinks.schema` brings its tables up to date, `sinks.loader` moves signals,
rollback events and dead letters from Kafka into it, and `sinks.queries` reads
them back for dashboards.
"""
