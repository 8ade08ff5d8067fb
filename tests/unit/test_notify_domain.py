"""notify's pure parts: which notice a document event deserves, the list's cursor, the new templates."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.notify import Locale, MarkReadRequest
from schemas.records import DocumentAddedV1
from services.kit.paging import BadCursor, encode_cursor
from services.notify.domain import templates
from services.notify.domain.listing import cursor_after, notification, position
from services.notify.domain.notices import BadEvent, document_notice

PATIENT = "1893120105732"


def event(**overrides: Any) -> DocumentAddedV1:
    body = {"event_id": "ev-1", "document_id": "doc-1", "patient_matricule": PATIENT, "document_type": "lab-result",
            "title": "Hémogramme", "author": "LAB-1", "document_date": "2026-11-20T08:05:00+01:00",
            "change": "added", "version": 1, **overrides}
    return DocumentAddedV1.model_validate(body)


def test_a_new_document_and_a_correction_each_get_their_notice_under_an_id_from_the_event() -> None:
    added = document_notice(event(), PATIENT.encode())
    corrected = document_notice(event(event_id="ev-2", change="corrected", version=2), PATIENT.encode())
    assert added is not None and corrected is not None
    assert (added.template, added.parameters) == ("document-added", {"title": "Hémogramme"})
    assert (corrected.template, corrected.parameters) == ("document-corrected", {"title": "Hémogramme",
                                                                                 "version": "2"})
    assert document_notice(event(), PATIENT.encode()) == added  # the same event: the same notice id
    assert added.id != corrected.id and added.id.startswith("doc-")


def test_a_withdrawal_is_told_only_when_the_document_had_been_shown() -> None:
    shown = document_notice(event(change="withdrawn", version=2), PATIENT.encode())
    assert shown is not None and shown.template == "document-withdrawn"
    assert document_notice(event(change="withdrawn", version=1), PATIENT.encode()) is None


@pytest.mark.parametrize(("overrides", "key", "reason"), [
    ({}, b"1893120105733", "message key does not match the value's patient_matricule"),
    ({}, None, "message key does not match the value's patient_matricule"),
    ({"event_id": "  "}, PATIENT.encode(), "event_id: must not be empty"),
])
def test_an_event_breaking_a_rule_says_why(overrides: dict[str, Any], key: bytes | None, reason: str) -> None:
    with pytest.raises(BadEvent, match=reason):
        document_notice(event(**overrides), key)


@pytest.mark.parametrize("template", ["document-added", "document-corrected", "document-withdrawn"])
@pytest.mark.parametrize("locale", list(Locale))
def test_document_templates_render_in_every_language(template: str, locale: Locale) -> None:
    subject, body = templates.render(template, locale, {"title": "Hémogramme", "version": "2"})
    assert subject and "Hémogramme" in body and "{" not in body


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2999, 1, 1)),
       st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._:-]{0,59}\Z"))  # a notice's id is a request id (MessageId)
def test_a_cursor_gives_back_the_position_to_the_millisecond(at: datetime, notice_id: str) -> None:
    stored = at.replace(microsecond=at.microsecond // 1000 * 1000, tzinfo=UTC)  # BSON dates: milliseconds
    assert position(cursor_after({"received_at": stored, "_id": notice_id})) == (stored, notice_id)


@pytest.mark.parametrize("forged", [encode_cursor("2026-01-01", "x"), encode_cursor(1, 2), encode_cursor(True, "x"),
                                    encode_cursor(10**20, "x"), encode_cursor(1), "!!!"])
def test_a_forged_cursor_is_refused(forged: str) -> None:
    with pytest.raises(BadCursor):
        position(forged)


def test_a_notice_reads_in_utc_with_z() -> None:
    item = notification({"_id": "n-1", "template_id": "first-access", "subject": "S", "body": "B", "read": False,
                         "received_at": datetime(2026, 11, 22, 7, 57, 31, 154000)})  # naive: UTC as stored
    assert item.model_dump(mode="json") == {"id": "n-1", "template": "first-access", "subject": "S", "body": "B",
                                            "at": "2026-11-22T07:57:31.154Z", "read": False}


def test_marking_read_names_ids_or_all_never_both_nor_neither() -> None:
    assert MarkReadRequest(recipient=PATIENT, ids=["a"]).ids == ["a"]
    assert MarkReadRequest(recipient=PATIENT, all=True).all
    for wrong in ({}, {"ids": ["a"], "all": True}, {"ids": ["a"] * 201}):
        with pytest.raises(ValidationError):
            MarkReadRequest.model_validate({"recipient": PATIENT, **wrong})


def test_an_alert_on_the_persons_own_channel_goes_where_she_chose_else_to_the_registrys_e_mail_then_mobile() -> None:
    from schemas.activation import AccountActivatedV1
    from schemas.notify import Channel
    from services.notify.domain.contacts import chosen_channel, preferred

    registry = {"email": "reg@example.lu", "mobile": "+352621000111"}
    activated = {"event_id": "e-1", "matricule": PATIENT, "minor": False, "luxtrust": False,
                 "activated_at": "2026-11-20T08:00:00+00:00"}
    by_sms = chosen_channel(AccountActivatedV1.model_validate({**activated, "channel": "sms",
                                                               "destination": "+352691222333"}))
    assert by_sms == {"channel": "sms", "address": "+352691222333"}
    assert chosen_channel(AccountActivatedV1.model_validate(activated)) is None  # an older event says nothing
    assert preferred({**registry, "preferred": by_sms}) == (Channel.SMS, "+352691222333")
    typed = {"channel": "email", "address": "chosen@example.lu"}
    assert preferred({**registry, "preferred": typed}) == (Channel.EMAIL, "chosen@example.lu")  # not the registry's
    assert preferred({**registry, "preferred": {"channel": "sms", "address": None}}) == (Channel.SMS, "+352621000111")
    assert preferred(registry) == (Channel.EMAIL, "reg@example.lu")  # nothing chosen: the registry's e-mail
    assert preferred({"mobile": "+352621000111", "email": None}) == (Channel.SMS, "+352621000111")
    assert preferred({"preferred": {"channel": "email", "address": None}}) is None  # notify knows no address
    assert preferred({}) is None


@pytest.mark.parametrize("template", ["presence-password-guesses", "presence-password-guesses-paused",
                                      "assistant-link-ended", "emergency-access-used"])
def test_the_trust_alerts_render_in_every_language(template: str) -> None:
    params = {"failures": "3", "professional": "Eva Roth (Médecin, Urgences)",
              "justification": "Patient unconscious in the emergency room"}
    for locale in Locale:
        subject, body = templates.render(template, locale, params)
        assert subject and body and "{" not in body
