"""access's pure domain (no database, network, broker, hashing or kit I/O; facts and `now` come in):
`decisions.py` (who may read or manage a DSP now, and why), `state.py` (the events and their fold, `apply`, and
the ends a state holds), `planner/` (what a command does, or why it is refused: `plan`), `directory.py` (the
directory's and the registry's facts access keeps, and how a person reads them), `presence.py` (presence
passwords' form and caps), `emergency.py` (break-the-glass: the justification rule, who breaks it often),
`audit.py` (the keyed audit chain), `audit_check.py` (the verdict on a chain), `signing.py` (the audit signing
key's JWS and JWKS)."""
