"""dsp-mesh services: async workers exchanging Kafka events, each owning its MongoDB collections."""
