"""records' collections: `protocol.py` (the `Store` Protocol, the seam below the use cases), `mongo.py`
(`RecordsStore`, the only code that touches the collections), `shape.py` (what a stored document leaves out, and
gets back when read), `files.py` (GridFS). The in-memory fake is `tests/fakes/records.py`."""
