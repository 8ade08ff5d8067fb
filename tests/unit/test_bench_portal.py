"""bench.portal's pure parts: pages named from their URLs, per-page percentiles, the knee, a page's time split."""

from __future__ import annotations

from bench.portal.__main__ import VISIT, visit
from bench.portal.figures import holds, hot, knee, median_split, page_of, per_page, split
from bench.portal.people import Patient


def _rate(offered: float, p99: float, unanswered: int = 0, pages: tuple[str, ...] = VISIT) -> dict[str, object]:
    return {"offered_per_s": offered, "unanswered": unanswered,
            "pages": {p: {"p50": p99 / 2, "p99": p99, "n": 100} for p in pages}}


def test_a_visit_names_its_six_pages() -> None:
    urls = visit("http://127.0.0.1:9", Patient("x", "s", "LAB-A-R-1"))
    assert [page_of(u) for u in urls] == list(VISIT)
    assert urls[2] == "http://127.0.0.1:9/documents/LAB-A-R-1"
    assert page_of("/documents?cursor=abc") == "documents"


def test_per_page_percentiles() -> None:
    figures = per_page([("home", float(ms)) for ms in range(1, 101)] + [("audit", 7.0)])
    assert figures["home"] == {"p50": 50.5, "p99": 99.0, "n": 100}
    assert figures["audit"] == {"p50": 7.0, "p99": 7.0, "n": 1}


def test_the_knee_is_the_highest_rate_below_the_first_that_fails() -> None:
    rates = [_rate(25, 40), _rate(50, 80), _rate(100, 299.9), _rate(200, 300), _rate(400, 100)]
    assert knee(rates, VISIT) == 100
    assert knee([_rate(25, 400)], VISIT) == 0
    assert knee(list(reversed(rates)), VISIT) == 100  # in any order


def test_a_rate_with_a_missing_page_or_an_unanswered_request_does_not_hold() -> None:
    assert holds(_rate(25, 10), VISIT)
    assert not holds(_rate(25, 10, unanswered=1), VISIT)
    assert not holds(_rate(25, 10, pages=VISIT[:-1]), VISIT)


def test_a_page_time_splits_into_its_calls_and_the_gateway_own() -> None:
    parts = split(30.0, [("records /v1/documents", 8.0), ("activation /v1/sessions/check", 2.0),
                         ("records /v1/documents", 4.0)])
    assert parts == {"records /v1/documents": 12.0, "activation /v1/sessions/check": 2.0, "gateway_own": 16.0}
    assert median_split([{"a": 1.0, "gateway_own": 5.0}, {"gateway_own": 7.0}, {"a": 3.0, "gateway_own": 6.0}]) \
        == {"a": 1.0, "gateway_own": 6.0}


def test_the_hottest_functions_are_per_page_view() -> None:
    import cProfile

    def busy() -> int:
        return sum(i * i for i in range(20_000))

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(4):
        busy()
    profiler.disable()
    rows = hot(profiler, views=2, top=3)
    assert len(rows) == 3 and rows[0]["own_ms"] >= rows[1]["own_ms"] >= rows[2]["own_ms"] > 0
    assert any("busy" in r["function"] and r["calls"] == 2.0 for r in hot(profiler, views=2, top=50))


def test_the_event_loops_wait_is_not_a_hot_function() -> None:
    import asyncio
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    asyncio.run(asyncio.sleep(0.05))  # the loop waits in select's poll
    profiler.disable()
    assert not [r for r in hot(profiler, views=1, top=500) if "poll' of 'select." in r["function"]]


def test_an_overloaded_mesh_fails_its_rate_and_a_lost_session_stops_the_bench() -> None:
    import base64

    import pytest

    from bench import vegeta
    from bench.portal.load import pages

    def row(status: str, error: str = "", seq: int = 0, url: str = "http://x/home") -> list[str]:
        return [str(seq * 10**7), status, "1000000", "0", "0", error, base64.b64encode(b"page").decode(), "",
                str(seq), "GET", url, ""]

    rows = [row("200"), row("503", seq=1), row("503", seq=2),
            row("0", "Get http://x/home: read: connection reset by peer", seq=3),
            row("200", seq=4, url="http://x/documents/d1")]
    got = pages(vegeta.parse(rows, 100, "rate-90", server_errors=True), 100)
    assert got.errors == {"HTTP 503": 2, "connection reset by peer": 1} and got.sent == 5
    assert got.answers == [("home", pytest.approx(1.0)), ("document", pytest.approx(1.0))]
    assert pages(vegeta.parse([row("200")], 25, "rate-25", server_errors=True), 25).errors == {}
    for status in ("302", "403"):
        with pytest.raises(RuntimeError, match=f"HTTP {status}"):
            vegeta.parse([row("200"), row(status, seq=1)], 25, "rate-25", server_errors=True)
    with pytest.raises(RuntimeError, match="HTTP 503"):  # the access benches: a 5xx stops them
        vegeta.parse([row("200"), row("503", seq=1)], 25, "decisions")
