-- Alternative ingestion for a ClickHouse server: the server reads the
-- driftline topics itself with its Kafka table engine, instead of the
-- loader. Not applied by the loader, and not usable with the embedded store.
--
-- Replace the {{...}} names before running: {{bootstrap}} (host:port list),
-- {{schema_registry_url}}, {{group}} (a consumer group of its own).
--
-- The Avro caveat: driftline writes schemaless Avro values (fastavro, no
-- schema id, no registry), and ClickHouse's Avro input formats cannot read
-- those: format Avro expects Avro object container files and AvroConfluent
-- expects the Confluent wire format (magic byte, schema id) with a schema
-- registry. This path works only when the producers of driftline.signals are
-- switched to the Confluent wire format with the same schemas registered
-- (subject driftline.signals-value, schemas/signal.avsc); with today's
-- schemaless values every message fails to parse. Records that fail are
-- skipped by kafka_skip_broken_messages and never reach the dead-letter
-- topic, unlike with the loader. Use the loader unless both are acceptable.
--
-- Only latency signals are shown; drift_results and fleet_versions follow
-- the same pattern with the drift and rollout fields.

CREATE TABLE IF NOT EXISTS kafka_signals
(
    signal_id String,
    kind String,
    window_start_ms Int64,
    window_end_ms Int64,
    model String,
    version String,
    shard Nullable(String),
    role String,
    baseline_version Nullable(String),
    n Int64,
    replicas Int32,
    latency Tuple(
        p50_ms Float64,
        p90_ms Float64,
        p95_ms Float64,
        p99_ms Float64,
        max_ms Float64,
        p99_lower_ms Float64,
        p99_upper_ms Float64,
        rank_error Float64,
        ttft_p99_ms Nullable(Float64),
        error_rate Float64,
        p99_ratio Nullable(Float64),
        breach Bool
    ),
    sketch Nullable(String)
)
ENGINE = Kafka
SETTINGS
    kafka_broker_list = '{{bootstrap}}',
    kafka_topic_list = 'driftline.signals',
    kafka_group_name = '{{group}}',
    kafka_format = 'AvroConfluent',
    format_avro_schema_registry_url = '{{schema_registry_url}}',
    kafka_skip_broken_messages = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS kafka_signals_to_latency_windows
TO latency_windows
AS SELECT
    fromUnixTimestamp64Milli(window_start_ms, 'UTC') AS window_start,
    fromUnixTimestamp64Milli(window_end_ms, 'UTC') AS window_end,
    kind,
    model,
    version,
    ifNull(shard, '') AS shard,
    role,
    ifNull(baseline_version, '') AS baseline_version,
    toUInt64(n) AS n,
    toUInt32(replicas) AS replicas,
    latency.p50_ms AS p50_ms,
    latency.p90_ms AS p90_ms,
    latency.p95_ms AS p95_ms,
    latency.p99_ms AS p99_ms,
    latency.max_ms AS max_ms,
    latency.p99_lower_ms AS p99_lower_ms,
    latency.p99_upper_ms AS p99_upper_ms,
    latency.rank_error AS rank_error,
    latency.ttft_p99_ms AS ttft_p99_ms,
    latency.error_rate AS error_rate,
    latency.p99_ratio AS p99_ratio,
    toUInt8(latency.breach) AS breach,
    ifNull(sketch, '') AS sketch,
    signal_id,
    now64(3, 'UTC') AS loaded_at
FROM kafka_signals
WHERE startsWith(kind, 'latency.');
