"""Pure domain of activation: the person as activation knows them. No I/O."""

from __future__ import annotations

from datetime import date
from typing import Any

from schemas.fields import matricule_birth_date
from schemas.registry import PersonRegisteredV1

MAJORITY_AGE = 18


def age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def is_minor(matricule: str, today: date) -> bool:
    """A patient under 18, derived from the birth date encoded in the matricule."""
    return age_on(matricule_birth_date(matricule), today) < MAJORITY_AGE


def person_fields(person: PersonRegisteredV1) -> dict[str, Any]:
    """The registry facts activation keeps about a person (the letter's address, the code channels)."""
    return {
        "given_name": person.given_name,
        "family_name": person.family_name,
        "birth_date": person.birth_date.isoformat(),
        "postal_address": person.postal_address.model_dump(mode="json"),
        "email": person.email,
        "mobile": person.mobile,
        "guardians": list(person.guardians),
        "last_message_id": person.message_id,
    }
