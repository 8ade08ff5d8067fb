"""Pure domain of notify: the contact facts it keeps from the registry. No I/O."""

from __future__ import annotations

from typing import Any

from schemas.registry import PersonRegisteredV1


def contact_fields(person: PersonRegisteredV1) -> dict[str, Any]:
    """Where a person can be reached: the letter's address, the registry's e-mail and mobile."""
    return {
        "given_name": person.given_name,
        "family_name": person.family_name,
        "postal_address": person.postal_address.model_dump(mode="json", exclude_none=True),
        "email": person.email,
        "mobile": person.mobile,
        "last_message_id": person.message_id,
    }
