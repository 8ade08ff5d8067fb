"""access's use cases, one module each: `apply.py` (an access command: load, gather facts, plan, save, effects),
`decide.py` (a decision: decide, audit, first access, its notice), `presence.py` (presence passwords: generated
once, for the patient and the agency; redeemed), `reads.py` (the portal's reads), `directory.py` (directory
reads), `audit_export.py` (a patient's signed trail), `stats.py` (the console's counters), `registry.py` (the
directory's and registry's facts kept), `sweeper.py` (grant ends due, the view's catch-up, pruning). What they
share: `view.py` (the in-memory view decisions read), `names.py` (who is who, named), `checkpoints.py` (the audit
chains' heads on their Kafka topic), `effects.py` (ids, publishers, notices), `answers.py` (what HTTP carries
back: a status and a body, cursors and keyset paging)."""
