"""The channel rules: the contact facts notify keeps from the registry and from activation (the channel a person
chose), where an alert on her own channel goes, where a request on a given channel goes, and a letter's address
lines. Pure: a contact comes in, a channel and an address (or `Unreachable`) come out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schemas.activation import AccountActivatedV1
from schemas.notify import Channel
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


def chosen_channel(event: AccountActivatedV1) -> dict[str, Any] | None:
    """What notify keeps of an activation: the channel the person chose for her codes and the address she chose
    on it (None: the event does not say, e.g. one published before it did)."""
    if event.channel is None:
        return None
    return {"channel": event.channel, "address": event.destination}


def preferred(contact: Mapping[str, Any]) -> tuple[Channel, str] | None:
    """Where an alert on the person's own channel goes: the e-mail or SMS she chose at activation (the address she
    chose, else the registry's on that channel), else the registry's e-mail, else its mobile; None: notify knows
    no way to reach her but the portal."""
    chosen = contact.get("preferred") or {}
    kind = chosen.get("channel")
    if kind in (Channel.EMAIL, Channel.SMS):
        address = chosen.get("address") or contact.get("email" if kind == Channel.EMAIL else "mobile")
        if address:
            return Channel(kind), str(address)
    if contact.get("email"):
        return Channel.EMAIL, str(contact["email"])
    if contact.get("mobile"):
        return Channel.SMS, str(contact["mobile"])
    return None


class Unreachable(ValueError):
    """No address for this person on the channel asked for: the request fails for good (the reason names no
    address)."""


def destination(channel: Channel, given: str | None, contact: Mapping[str, Any]) -> tuple[Channel, str]:
    """The channel a request goes out on (never `preferred`: resolved to the person's e-mail or SMS, `preferred`)
    and its address: an e-mail or SMS to the address given, else the registry's; "" for in-app and letters (a
    letter's address is `letter_address`)."""
    if channel is Channel.PREFERRED:
        found = preferred(contact)
        if found is None:
            raise Unreachable("no e-mail address or mobile number for this person")
        return found
    if channel is Channel.EMAIL:
        to = given or contact.get("email")
        if not to:
            raise Unreachable("no e-mail address for this person")
        return channel, str(to)
    if channel is Channel.SMS:
        to = given or contact.get("mobile")
        if not to:
            raise Unreachable("no mobile number for this person")
        return channel, str(to)
    return channel, ""


def address_lines(given: str, family: str, params: Mapping[str, Any]) -> list[str]:
    lines = [f"{given} {family}".strip(), params.get("line1", ""), params.get("line2", ""),
             f"{params.get('postal_code', '')} {params.get('locality', '')}".strip(), params.get("country", "")]
    return [line for line in lines if line]


def letter_address(params: Mapping[str, str], contact: Mapping[str, Any]) -> list[str]:
    """A letter's window-envelope lines: the registry's postal address, the request's parameters over it."""
    address = {**contact.get("postal_address", {}), **params}
    lines = address_lines(params.get("given_name", contact.get("given_name", "")), params["family_name"], address)
    if len(lines) < 3:
        raise Unreachable("no postal address for this person")
    return lines
