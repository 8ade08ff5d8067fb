"""records' internal HTTP API (on the worker's own port), every route behind the door (JSON POST, a known Host, a
service token), one module per caller: `documents.py` (the gateway's reads), `console.py` (the console's counts).
Each route decodes its body (`schemas.records_api`), calls one use case and answers: a malformed body or cursor is a
422 with the reasons, an unknown or hidden document a 404, the database down a 503 (the door's)."""
