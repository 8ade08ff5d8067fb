"""Pure domain of access: the directory and registry facts access keeps. No I/O."""

from __future__ import annotations

from typing import Any

from schemas.directory import ProfessionalListedV1
from schemas.registry import PersonRegisteredV1


def professional_fields(pro: ProfessionalListedV1) -> dict[str, Any]:
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


def person_fields(person: PersonRegisteredV1) -> dict[str, Any]:
    """Registry facts access needs: who exists (patients, assistants) and a minor's guardians."""
    return {"guardians": list(person.guardians), "last_message_id": person.message_id}
