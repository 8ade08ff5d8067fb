"""Real local infrastructure without Docker: Apache Kafka (KRaft) and FerretDB, run as processes."""
