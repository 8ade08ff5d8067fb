"""access's HTTP routes, one module per group, each route behind the door (`services.kit.http.Door`: the caller's
service token, JSON, a known Host) decoding the body, calling one use case and answering: `decisions.py` (the
gateway's decisions, timed by `timing.py`; the console's counters), `reads.py`, `audit.py`, `directory.py`,
`presence.py`."""
