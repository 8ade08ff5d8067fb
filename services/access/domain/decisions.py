"""Access decisions: who may see a patient's DSP, and why. Pure: the state is given, `now` is given.

Rules (the commands and who may send them: `docs/services/access.md`):
- the owner and the owner's active DSP assistants have the owner's rights;
- a professional the patient blocked is denied, whatever else they hold;
- a blocked document is invisible to every professional;
- a professional reads with a grant that is in force at `now`, the kinds in the order of the grant-kind table
  (`grants.py`: trusted-circle membership within its access period, none = no end; a presence-password grant;
  break-the-glass emergency access, only where the patient has not refused it);
- an expired or revoked grant denies at once: expiry is checked here, never left to a sweeper;
- only the owner and assistants manage access.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from .grants import GRANTS, GrantKind


class Action(StrEnum):
    READ = "read"  # list or read the patient's documents
    MANAGE = "manage"  # change who has access, consents, assistants


@dataclass(frozen=True, slots=True)  # slots: a million of them in the view, about 100 bytes less each
class Grant:
    kind: GrantKind
    professional_id: str
    granted_at: datetime
    ends_at: datetime | None  # None: no end (circle members by default)

    def in_force(self, now: datetime) -> bool:
        return self.granted_at <= now and (self.ends_at is None or now < self.ends_at)


@dataclass
class PatientAccess:
    """Everything access decisions need about one patient's DSP."""

    grants: dict[tuple[GrantKind, str], Grant] = field(default_factory=dict)
    blocked_professionals: set[str] = field(default_factory=set)
    blocked_documents: set[str] = field(default_factory=set)
    assistants: dict[str, datetime | None] = field(default_factory=dict)  # matricule -> link end (None: none)
    assistant_since: dict[str, datetime] = field(default_factory=dict)  # matricule -> when the link was made
    referring_gp: str | None = None
    emergency_refused: bool = False


@dataclass(frozen=True)
class Actor:
    kind: str  # "patient" (a person, by matricule) or "professional" (by directory id)
    id: str


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    grant: GrantKind | None = None


def decide(state: PatientAccess | None, actor: Actor, action: Action, patient: str, now: datetime,
           document: str | None = None, known_professional: bool = True) -> Decision:
    if actor.kind == "patient":
        if actor.id == patient:
            return Decision(True, "owner")
        if state is not None and actor.id in state.assistants:
            link_end = state.assistants[actor.id]
            if link_end is None or now < link_end:
                return Decision(True, "DSP assistant")
            return Decision(False, "the assistant link has ended")
        return Decision(False, "not the owner nor a DSP assistant of this record")
    if actor.kind != "professional":
        return Decision(False, f"unknown kind of actor {actor.kind!r}")
    if not known_professional:
        return Decision(False, "unknown professional")
    if action is Action.MANAGE:
        return Decision(False, "only the patient and their DSP assistants manage access")
    if state is None:
        return Decision(False, "no grant for this professional")
    if actor.id in state.blocked_professionals:
        return Decision(False, "professional blocked by the patient")
    if document is not None and document in state.blocked_documents:
        return Decision(False, "document blocked by the patient")
    for rule in GRANTS:
        grant = state.grants.get((rule.kind, actor.id))
        if grant is None or (rule.refusable and state.emergency_refused):
            continue
        if grant.in_force(now):
            gp = rule.kind is GrantKind.CIRCLE and state.referring_gp == actor.id
            return Decision(True, "referring GP" if gp else rule.reads_as, rule.kind)
    if any(g.professional_id == actor.id and g.ends_at is not None and now >= g.ends_at
           for g in state.grants.values()):
        return Decision(False, "the grant has expired")
    return Decision(False, "no grant for this professional")
