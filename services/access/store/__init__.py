"""access's MongoDB collections (this package is the only door to them): `protocol.py` holds the stored patient
document, the `Store` Protocol and the audit trail's (`AuditTrail`, `Checkpoints`), `mongo.py` its MongoDB
implementation `AccessStore`, `audit_log.py` keeps the audit trail's hash chain; the in-memory fakes are
`tests/fakes/access.py`. One document per patient holds the whole access state and a version: writes are
version-guarded, so two replicas (or the sweeper and a command) never overwrite each other."""

from .mongo import AccessStore
from .protocol import (
    RECENT_COMMANDS,
    AuditTrail,
    Checkpoints,
    PatientDoc,
    Store,
    decode_access,
    decode_doc,
    encode_access,
)

__all__ = ["RECENT_COMMANDS", "AccessStore", "AuditTrail", "Checkpoints", "PatientDoc", "Store", "decode_access",
           "decode_doc", "encode_access"]
