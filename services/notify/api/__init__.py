"""notify's internal HTTP API (on the worker's own port, behind the door: `services.kit.http.Door`), one module per
caller, each route decoding its body (`schemas.notify`), calling one use case and answering: `notifications.py`
(the gateway: a person's list, marking read), `console.py` (the console's counters)."""
