"""The audit export use case (behind `api/audit.py`; the gateway calls it): a patient's whole trail signed by
access — `POST /v1/audit/export`, for the owner or an assistant (403 otherwise, a professional included) — and the
public key that checks it, `POST /v1/audit/keys` (a JWKS, which the gateway publishes).

The export holds every entry in order exactly as the chain holds it (hashes and MAC marks included, who acted
named), the chain's head, access's latest checkpoint (its own signed JWS) and how the chain verified, all signed
with access's audit signing key (`signing.AuditSigner.sign`: a detached JWS over the canonical JSON)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from schemas.access import PatientQuery
from schemas.audit import EXPORT_FORMAT, AuditExportV1
from schemas.fields import rfc3339

from ..domain.audit import AuditEntry, Checkpoint
from ..domain.audit_check import Verdict
from ..domain.decisions import Action, Actor
from ..domain.signing import AuditSigner
from ..store import AuditTrail, Checkpoints
from .answers import Answer
from .effects import ms
from .names import Names
from .view import AccessView


class AuditExport:
    def __init__(self, view: AccessView, audit: AuditTrail, names: Names, checkpoints: Checkpoints,
                 signer: AuditSigner, clock: Callable[[], datetime]) -> None:
        self.view, self.audit = view, audit
        self.names, self.checkpoints, self.signer, self.clock = names, checkpoints, signer, clock

    def keys(self) -> dict[str, Any]:
        """access's public key set (a JWKS), which the gateway publishes."""
        return self.signer.jwks()

    async def export(self, body: PatientQuery) -> Answer:
        now = ms(self.clock())
        decision = await self.view.decide(Actor(body.actor.kind, body.actor.id), Action.MANAGE, body.patient, now)
        if not decision.allowed:
            return 403, {"detail": decision.reason}
        chain = await self.audit.chain(body.patient)
        verdict = await self.audit.verify(body.patient, chain)
        people = await self.names.person_names(e.actor_id for e in chain if e.actor_kind == "patient")
        named = {(e.actor_kind, e.actor_id): self.names.actor(e.actor_kind, e.actor_id, people).name for e in chain}
        document = self.signer.sign(export_document(body.patient, chain, verdict,
                                                    self.checkpoints.checked(body.patient), named, now))
        AuditExportV1.model_validate(document)  # the contract the gateway documents
        return 200, document


def export_document(patient: str, chain: Sequence[AuditEntry], verdict: Verdict, checkpoint: Checkpoint | None,
                    named: Mapping[tuple[str, str], str | None], at: datetime) -> dict[str, Any]:
    """The export before its signature: plain JSON values only, so its canonical form is what gets signed."""
    head = chain[-1] if chain else None
    return {
        "format": EXPORT_FORMAT, "patient": patient, "exported_at": rfc3339(at),
        "entries": [{"seq": e.seq, "at": e.at.isoformat(), "actor_kind": e.actor_kind, "actor_id": e.actor_id,
                     "who": {"kind": e.actor_kind, "id": e.actor_id, "name": named.get((e.actor_kind, e.actor_id))},
                     "action": e.action, "document": e.document, "allowed": e.allowed, "reason": e.reason,
                     "via": e.via, "justification": e.justification, "prev_hash": e.prev_hash, "hash": e.hash,
                     "mac": e.mac} for e in chain],
        "head": {"seq": head.seq, "hash": head.hash} if head is not None else None,
        "checkpoint": {"seq": checkpoint.seq, "hash": checkpoint.hash, "at": checkpoint.at,
                       "jws": checkpoint.token} if checkpoint is not None else None,
        "verification": {"intact": verdict.intact, "reason": verdict.reason, "not_checkpointed": verdict.unchecked},
    }
