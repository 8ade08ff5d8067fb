"""notify's collections: `protocol.py` (the `Store` Protocol, the seam below the use cases) and `mongo.py`
(`NotifyStore`, the only code that touches `outbox`, `inbox` and `contacts`). The in-memory fake is
`tests/fakes/notify.py`."""
