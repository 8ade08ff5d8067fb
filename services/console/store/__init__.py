"""The console's own database `<prefix>_console`: `protocol.py` (the `Store` Protocol: operators, sessions, login
failures, the operators' audit trail) and `mongo.py` (`ConsoleStore`, the only console code that imports pymongo).
The in-memory fake is `tests/fakes/console.py`."""
