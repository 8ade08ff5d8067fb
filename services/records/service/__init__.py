"""records' use cases, one module each: `ingest.py` (lab results in batches: verify, validate, park, fold, write,
emit; FHIR bundles checked, mapped and sent on), `announcements.py` (a laboratory announced: merged, its waiting
results released), `directory.py` (the laboratories as stored and in memory), `persons.py` (a registry person:
known, her parked results released), `patient_documents.py` (a patient's uploads, blocks and unblocks), `reads.py`
(the gateway's reads), `stats.py` (the console's counters). `metrics.py`: ingestion's Prometheus metrics.

Each use case loads what it needs from the store (`store.protocol.Store`), asks the domain, saves, then runs the
effects (events, dead letters, results sent on)."""
