"""records' pure domain: `documents.py` (the typed `Document` and its `Version`s, ids, the rules a lab result must
keep, which version is current), `folding.py` (what a batch's versions do to their documents, and the events),
`listing.py` (a patient's list: its entries, filters, order and cursor), `views.py` (a document as the read API
shows it), `laboratories.py` (the directory's laboratories and keys, merged by a rule, held in memory),
`provenance.py` (who signed a result: the signature checked against the announced keys), `fhir.py` (a FHIR R4
lab report mapped to the lab-result contract). Facts and `now` come in, a decision comes out; no I/O."""
