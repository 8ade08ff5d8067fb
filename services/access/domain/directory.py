"""Pure domain of access: the directory and registry facts access keeps, and how a person reads them. No I/O."""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from schemas.activation import AccountActivatedV1
from schemas.directory import ProfessionalListedV1
from schemas.registry import PersonRegisteredV1

AGENCY = "Agence eSanté"  # how an operator's or an internal service's action reads in the audit trail
AGENCY_ACTOR = "agency"  # the operator id of what access does for the agency (a presence password on activation)
NOTICE_PARAM_MAX = 500  # schemas.notify.ParamValue
_AGENCY_NS = uuid.UUID("6f1c3a2e-9b7d-4e51-8a0c-2d4f6b8e1a37")
AssistantKind = Literal["parent-of-minor", "designated-assistant"]


@dataclass(frozen=True)
class ProfessionalCard:
    """A professional as the directory lists them (access keeps every one, active or not, to name them)."""

    professional_id: str
    given_name: str
    family_name: str
    profession: str
    specialty: str | None = None
    practice_id: str | None = None
    active: bool = True

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    def display(self) -> str:
        """The name in a notice: 'Paul Hoffmann (Médecin, Médecine générale)'."""
        detail = ", ".join(part for part in (self.profession, self.specialty) if part)
        return (f"{self.name} ({detail})" if detail else self.name)[:NOTICE_PARAM_MAX]

    def sort_key(self) -> tuple[str, str, str]:
        return fold(self.family_name), fold(self.given_name), self.professional_id

    def matches(self, prefix: str) -> bool:
        """Active, and the given or family name starts with `prefix` (case and accents ignored)."""
        folded = fold(prefix)
        return self.active and (fold(self.family_name).startswith(folded) or fold(self.given_name).startswith(folded))


def card(pro: ProfessionalListedV1) -> ProfessionalCard:
    return ProfessionalCard(pro.professional_id, pro.given_name, pro.family_name, pro.profession, pro.specialty,
                            pro.practice_id, pro.active)


def fold(text: str) -> str:
    """Case and accents ignored: 'Élise' and 'elise' compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def search(cards: Iterable[ProfessionalCard], prefix: str, after: tuple[str, str, str] | None,
           limit: int) -> list[ProfessionalCard]:
    """Up to `limit` active professionals matching `prefix`, by family then given name, after the key `after`."""
    found = sorted((c for c in cards if c.matches(prefix) and (after is None or c.sort_key() > after)),
                   key=ProfessionalCard.sort_key)
    return found[:limit]


class KnownProfessional(TypedDict):
    """What access keeps of the directory's entry for a professional (stored as the professional's document)."""

    given_name: str
    family_name: str
    profession: str
    specialty: str | None
    practice_id: str | None
    active: bool
    last_message_id: str


class KnownPerson(TypedDict):
    """What access keeps of the registry's record of a person: no address, no contact."""

    given_name: str
    family_name: str
    guardians: list[str]  # a minor's legal representatives: the only persons who may be the minor's DSP assistant
    last_message_id: str


def professional_fields(pro: ProfessionalListedV1) -> KnownProfessional:
    """Directory facts access decisions need; access is per professional, never per practice."""
    return {
        "given_name": pro.given_name,
        "family_name": pro.family_name,
        "profession": pro.profession,
        "specialty": pro.specialty,
        "practice_id": pro.practice_id,
        "active": pro.active,
        "last_message_id": pro.message_id,
    }


def person_fields(person: PersonRegisteredV1) -> KnownPerson:
    """Registry facts access needs: who exists (patients, assistants), their name (nothing more of the registry:
    no address, no contact) and a minor's legal representatives (`guardians`)."""
    return {"given_name": person.given_name, "family_name": person.family_name, "guardians": list(person.guardians),
            "last_message_id": person.message_id}


def person_name(raw: Mapping[str, Any] | None) -> str | None:
    """'Marie Weber' from access's copy of a registry person; None if unknown (or kept before names were)."""
    if not raw or not raw.get("family_name"):
        return None
    return f"{raw.get('given_name', '')} {raw['family_name']}".strip()


def assistant_kind(patient_is_minor: bool, assistant: str, guardians: Collection[str]) -> AssistantKind:
    """A registered guardian assisting a minor is a parent of a minor; anyone else the patient designated."""
    return "parent-of-minor" if patient_is_minor and assistant in guardians else "designated-assistant"


def agency_command_id(event: AccountActivatedV1) -> str:
    """The id of the internal command that issues the agency's presence password for one activation event: the
    same event always gives the same id (a redelivery is the same command), whatever characters the event id has."""
    return f"agency-presence-{uuid.uuid5(_AGENCY_NS, event.event_id)}"
