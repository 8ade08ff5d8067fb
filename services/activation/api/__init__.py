"""activation's HTTP API, one module per group of routes, each route behind the door (`services.kit.http.Door`: the
caller's service token, JSON, a known Host) and calling one use case: `challenges.py`, `activation.py` (start and
the steps), `login.py`, `sessions.py`, `password.py` for the gateway, `console.py` for the console. Bodies are
JSON (`schemas.activation`); a step's answer is a `StepAnswer` (tokens appear only here, never on Kafka)."""
