"""The audit hash chain and presence passwords (access, issue 5)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from schemas.access import PRESENCE_ALPHABET, PresencePasswordText
from services.access.domain import audit, audit_check, presence
from services.access.service import presence as passwords

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
PATIENT = "1893120105732"
KEY = audit.AuditKeys.derive(b"a test key of access's audit trail").entries


def chain(n: int) -> list[audit.AuditEntry]:
    entries: list[audit.AuditEntry] = []
    for i in range(n):
        entries.append(audit.append(entries[-1].head if entries else None, PATIENT, KEY, T0 + timedelta(minutes=i),
                                    "professional", f"PRO-{i % 3}", "read", f"doc-{i}", i % 4 != 0,
                                    "trusted-circle" if i % 4 else "no grant for this professional"))
    return entries


def first_broken(entries: list[audit.AuditEntry]) -> int | None:
    return audit_check.verify(entries, KEY, patient=PATIENT).at


def test_an_intact_chain_verifies() -> None:
    entries = chain(6)
    assert audit_check.verify(entries, KEY).intact
    assert entries[0].prev_hash == audit.GENESIS and entries[3].prev_hash == entries[2].hash
    assert all(e.mac == audit.KEYED and audit.signed(e, KEY) for e in entries)


@given(st.integers(0, 9), st.sampled_from(["reason", "allowed", "actor_id", "at"]))
def test_altering_any_entry_is_found_at_that_entry(index: int, field: str) -> None:
    entries = chain(10)
    value = {"reason": "edited", "allowed": not entries[index].allowed, "actor_id": "PRO-X",
             "at": entries[index].at + timedelta(seconds=1)}[field]
    entries[index] = replace(entries[index], **{field: value})
    verdict = audit_check.verify(entries, KEY)
    assert (verdict.at, verdict.problem) == (index, audit_check.Problem.FORGED)


def test_removed_or_reordered_entries_break_the_chain() -> None:
    entries = chain(5)
    assert first_broken(entries[:2] + entries[3:]) == 2
    assert first_broken([entries[1], entries[0], *entries[2:]]) == 0
    # whoever re-seals an entry they altered without access's key makes a MAC that does not hold
    resealed = [*entries[:2], audit.seal(replace(entries[2], reason="forged"), b"not access's key"), *entries[3:]]
    assert first_broken(resealed) == 2
    assert first_broken([*entries[:4], replace(entries[4], reason="forged")]) == 4


def test_presence_passwords_are_unambiguous_hashed_and_forgiving_in_format() -> None:
    codes = {passwords.generate() for _ in range(200)}
    assert len(codes) == 200
    assert all(len(c) == 9 and c[4] == "-" and set(c.replace("-", "")) <= set(PRESENCE_ALPHABET) for c in codes)
    code = next(iter(codes))
    stored = asyncio.run(passwords.hash_password(code))
    assert stored.startswith("$argon2") and code not in stored
    assert asyncio.run(passwords.matches(stored, code.lower().replace("-", " ")))
    assert not asyncio.run(passwords.matches(stored, "AAAA-AAAA"))
    assert not asyncio.run(passwords.matches("not a hash", code))
    assert not asyncio.run(passwords.matches(None, code))


def test_the_contract_accepts_exactly_the_alphabet_presence_passwords_are_made_of() -> None:
    shown = TypeAdapter(PresencePasswordText)
    for code in {passwords.generate() for _ in range(200)}:
        assert shown.validate_python(code) == code
    assert presence.ALPHABET == PRESENCE_ALPHABET and len(set(PRESENCE_ALPHABET)) == 31
    for excluded in "01ILO":  # read aloud at a front desk: never generated, so never accepted
        with pytest.raises(ValidationError):
            shown.validate_python(f"{excluded}BCD-EFGH")
    for malformed in ("ABCDEFGH", "abcd-efgh", "ABCD-EFG", "ABCD-EFGHJ"):
        with pytest.raises(ValidationError):
            shown.validate_python(malformed)
