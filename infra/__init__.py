"""How driftline obtains and starts the real services it runs on.

- `infra.jars`: jar sets from Maven Central, cached once per machine;
- `infra.flink`: the connector jars PyFlink jobs pass as ``pipeline.jars``;
- `infra.kafka`: a local single-node Kafka 4 broker and topic creation;
- `infra.topics`: the catalogue of driftline's topics;
- `infra.services`: a Kafka bootstrap for tests, from whatever the machine has.

Nothing here is imported by ``sketches/`` or ``producers/``.
"""
