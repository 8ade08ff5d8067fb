"""Pure domain of activation: the person as activation knows them. No I/O."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal, TypedDict

from schemas.fields import matricule_birth_date
from schemas.registry import PersonRegisteredV1

MAJORITY_AGE = 18
OtpSlot = Literal["otp", "login_otp"]


class OneTimeCode(TypedDict, total=False):
    """A one-time code waiting in an account: its keyed hash, never the code."""

    hash: str
    expires_at: datetime
    tries: int
    sent_at: datetime
    channel: str
    address: str
    used: bool


class Account(TypedDict, total=False):
    """One person's activation account, as stored (one document per matricule). Typed, not validated: the store
    loads and saves it whole, and the flow's steps (`flow.py`) change it in memory."""

    _id: str  # the matricule
    state: str  # "", code-verified, password-set, otp-sent, secured, luxtrust-done, active
    active: bool
    generation: int  # of the letter's code; a new letter, a new generation
    code_hash: str
    code_issued_at: datetime
    code_expires_at: datetime
    code_used: bool
    terms_version: str
    password_hash: str
    otp_channel: str
    otp_address: str
    otp: OneTimeCode
    login_otp: OneTimeCode
    otp_failures: int
    otp_failed_at: datetime | None
    luxtrust: bool
    activated_at: datetime
    flow_hash: str
    login_hash: str
    devices: list[str]  # digests of trusted browsers' device tokens
    session_generation: int  # a session opened under a lower one has ended (absent: 0)
    sessions: list[str]  # older documents only: the latest session digests, ignored, dropped at the next end
    recent: list[dict[str, Any]]  # the outcome log of helpdesk commands (kit.commands)
    reissues: list[dict[str, Any]]  # {"command_id", "generation"}: a redelivered reissue re-sends the same letter


def end_every_session(acc: Account) -> int:
    """Every session of the account ends, whatever their number and age: its session generation moves on, and the
    session check refuses a session opened under a lower one. The new generation."""
    acc["session_generation"] = acc.get("session_generation", 0) + 1
    acc.pop("sessions", None)
    return acc["session_generation"]


def age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def is_minor(matricule: str, today: date) -> bool:
    """A patient under 18, derived from the birth date encoded in the matricule."""
    return age_on(matricule_birth_date(matricule), today) < MAJORITY_AGE


class KnownPerson(TypedDict):
    """What activation keeps of the registry's record of a person: the letter's name and address, the channels a
    one-time code may go to, a minor's guardians."""

    given_name: str
    family_name: str
    birth_date: str  # ISO date
    postal_address: dict[str, Any]  # schemas.registry.PostalAddress, as JSON
    email: str | None
    mobile: str | None
    guardians: list[str]
    last_message_id: str


def person_fields(person: PersonRegisteredV1) -> KnownPerson:
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
