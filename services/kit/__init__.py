"""The runtime kit every service shares: settings, logging, Kafka, dead letters, MongoDB, HTTP probes."""
