"""activation's collections: `protocol.py` (the `Store` Protocol, the seam below the service layer, and the
stored documents' ids) and `mongo.py` (`ActivationStore`, the only code that touches the collections). The
in-memory fake is `tests/fakes/activation.py`."""
