"""The console's pure rules: `operators.py` (names, passwords, roles, sessions' lifetimes, the CSRF check),
`slowdown.py` (how long a name waits after failed logins), `masking.py` (dead-letter payloads as an operator sees
them). No I/O."""
