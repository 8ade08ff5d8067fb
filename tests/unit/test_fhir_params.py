"""FHIR search parameters at the FHIR door: dates on their own precision with FHIR's prefixes, tokens with or
without a system, `_count` and `_offset` bounded, and any parameter the door does not serve refused, not ignored."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.gateway.fhir.params import BadParameter, Query, date_filter, dates, reference_id, tokens

AT = datetime(2026, 11, 20, 7, 5, tzinfo=UTC)


@pytest.mark.parametrize(("value", "expected"), [
    ("2026", True), ("2026-11", True), ("2026-11-20", True), ("2026-11-21", False), ("eq2026-11-20", True),
    ("ge2026-11-20", True), ("gt2026-11-20", False), ("gt2026-11-19", True), ("lt2026-11-20", False),
    ("le2026-11-20", True), ("lt2026-11-21", True), ("2026-11-20T07:05:00Z", True),
    ("2026-11-20T08:05:00+01:00", True), ("ge2026-11-20T07:06Z", False), ("2026-11-20T07:05", True),
    ("lt2027", True), ("ge2026-12", False)])
def test_a_date_covers_its_own_precision(value: str, expected: bool) -> None:
    assert date_filter(value)(AT) is expected


@pytest.mark.parametrize("value", ["20261120", "2026-13", "2026-02-30", "ne2026", "sa2026", "yesterday", "2026-11-2"])
def test_a_date_the_door_cannot_read_is_refused(value: str) -> None:
    with pytest.raises(BadParameter):
        date_filter(value)


def test_repeated_dates_all_hold_and_none_matches_everything() -> None:
    both = dates(Query({"date": ["ge2026-11", "lt2026-12"]}))
    assert both(AT) and not both(datetime(2026, 12, 1, tzinfo=UTC)) and not both(None)
    assert dates(Query({}))(None)


def test_tokens_with_and_without_a_system() -> None:
    code = tokens(Query({"code": ["http://loinc.org|718-7,1988-5"]}), "code")
    assert code("http://loinc.org", "718-7") and not code("http://loinc.org", "600-7")
    assert not code("urn:other", "718-7")
    bare = tokens(Query({"code": ["1988-5"]}), "code")
    assert bare("http://loinc.org", "1988-5") and bare(None, "1988-5")
    assert tokens(Query({}), "code")(None, "anything")


def test_count_offset_and_unknown_parameters() -> None:
    query = Query.of([("patient", "abc"), ("_count", "2"), ("_format", "json"), ("_offset", "4")], ("patient",))
    assert (query.count(), query.offset()) == (2, 4)
    assert query.url("https://x/fhir/r4", "Observation", _offset=6) == (
        "https://x/fhir/r4/Observation?patient=abc&_count=2&_offset=6")
    assert Query.of([], ("patient",)).count() == 20
    for bad in ("101", "-1", "two"):
        with pytest.raises(BadParameter):
            Query.of([("_count", bad)], ()).count()
    with pytest.raises(BadParameter) as refused:
        Query.of([("author", "x")], ("patient",))
    assert refused.value.code == "not-supported"
    with pytest.raises(BadParameter):
        Query.of([("_count", "1"), ("_count", "2")], ()).count()


def test_references() -> None:
    assert reference_id("abc", "Patient") == reference_id("Patient/abc", "Patient") == "abc"
    assert reference_id("https://x/fhir/r4/Patient/abc", "Patient") == "abc"
    with pytest.raises(BadParameter):
        reference_id("Group/abc", "Patient")
