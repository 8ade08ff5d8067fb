"""The console's use cases, one module each: `operators.py` (operators created by the CLI, a login's password
checked), `sessions.py` (an operator's session), `throttle.py` (the login slow-down), `audit.py` (the operators'
trail), `deadletters.py` (a `.dlq` topic listed, one read, one replayed), `probes.py` (what the dashboard shows:
health, metrics, lag, each service's counters)."""
