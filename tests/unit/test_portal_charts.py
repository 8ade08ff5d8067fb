"""The portal's server-drawn charts (services/gateway/web/charts.py, templates/_charts.html), pure: the 'Ligne de vie' —
one lane per type, each mark a link inside the period, marks of one day apart never sharing a touch target — and
a value's history — the reference range as a band, out-of-range points marked by shape (▲ ▼), a change of unit
shown and not drawn on the same axis; both rendered as SVG with their text equivalent."""

from __future__ import annotations

from datetime import date
from typing import Any

from services.gateway.web import charts
from services.gateway.web.routes.documents import flagged_history
from services.gateway.web.web import User, environment


def _doc(doc_id: str, day: str, kind: str = "lab-result") -> dict[str, Any]:
    return {"id": doc_id, "document_type": kind, "title": f"Bilan {doc_id}", "document_date": f"{day}T08:00:00Z"}


def test_the_timeline_draws_one_lane_per_type_and_a_link_per_document_inside_the_period() -> None:
    items = [_doc("a", "2026-01-10"), _doc("b", "2026-01-10"), _doc("c", "2026-06-01"),
             _doc("u", "2026-03-05", "patient-upload")]
    drawn = charts.timeline(items, date(2026, 1, 1), date(2026, 12, 31), 340, "fr",
                            {"lab-result": "Résultat", "patient-upload": "Mon dépôt"}.__getitem__,
                            lambda d: f"/documents/{d['id']}")
    labs, uploads = drawn.lanes
    assert (labs.label, uploads.label) == ("Résultat", "Mon dépôt")
    assert [m.href for m in labs.marks] == ["/documents/a", "/documents/b", "/documents/c"]
    assert [m.shape for m in uploads.marks] == ["square"] and labs.marks[0].shape == "circle"
    a, b, c = labs.marks
    assert a.x == b.x and abs(a.y - b.y) >= charts.HIT  # the same day: two rows, two touch targets
    assert c.y == a.y and c.x > a.x
    assert all(charts.HIT / 2 <= m.x <= 340 - charts.HIT / 2 for lane in drawn.lanes for m in lane.marks)
    assert "10 janv. 2026" in a.label
    assert 2 <= len(drawn.ticks) <= 340 // 80 and all(0 <= t.x <= 340 for t in drawn.ticks)
    assert drawn.ticks[0].label.endswith("2026")
    svg = environment("fr").get_template("_charts.html").module.timeline_svg(drawn, "t", "narrow")  # type: ignore[attr-defined]
    assert svg.count('<a href="/documents/') == 4 and "<title>Bilan a, 10 janv. 2026</title>" in svg
    assert 'width="44" height="44"' in svg and 'role="group" aria-labelledby="t"' in svg


def test_a_short_period_is_labelled_by_days_and_a_long_one_by_years() -> None:
    days = charts.ticks(date(2026, 10, 1), date(2026, 10, 5), 340, "en")
    assert [label for _, label in days] == ["1 Oct", "3 Oct", "5 Oct"]  # four labels fit in 340 units
    years = charts.ticks(date(2016, 3, 1), date(2026, 2, 1), 340, "de")
    assert len(years) <= 4 and all(label.isdigit() for _, label in years)


def _result(doc_id: str, day: str, value: float, unit: str = "g/dL", flag: str | None = None) -> dict[str, Any]:
    return {"document_id": doc_id, "title": f"Hémogramme {day}", "document_date": f"{day}T08:00:00Z",
            "laboratory_name": "Laboratoire Un",
            "observation": {"loinc": "718-7", "display": "Hémoglobine", "value": value, "unit": unit,
                            "reference_low": 12.0, "reference_high": 16.0, "interpretation": flag}}


def test_a_value_chart_bands_the_range_marks_out_of_range_by_shape_and_leaves_another_unit_off_the_axis() -> None:
    history = flagged_history({"loinc": "718-7", "display": "Hémoglobine", "results": [
        _result("a", "2025-01-10", 131.0, "g/L"), _result("b", "2025-06-01", 11.4, flag="L"),
        _result("c", "2025-09-01", 16.8), _result("d", "2026-01-05", 12.6)]})
    chart = charts.value_chart(history["results"], "fr", current="d")
    assert chart.unit == "g/dL" and chart.other_units == ["g/L"]
    assert [r["document_id"] for r in chart.plotted] == ["b", "c", "d"]
    assert [p.shape for p in chart.points] == ["down", "up", "circle"]  # 16.8 > 16: high, from its range
    assert [p.current for p in chart.points] == [False, False, True]
    assert chart.band is not None and chart.band[0] < chart.band[1]  # y grows downwards: the top is the high limit
    low, high = chart.band[1], chart.band[0]
    down, up, ok = chart.points
    assert down.y > low and up.y < high and high < ok.y < low
    assert chart.band_label == "12 – 16" and chart.x_labels[0][1] == "1 juin 2025"
    page = environment("fr").get_template("_charts.html").module.history(  # type: ignore[attr-defined]
        history, chart, "h", current="d", link="/documents/")
    assert 'role="img" aria-labelledby="h-said"' in page
    assert "Hémoglobine : 3 résultats en g/dL du 1 juin 2025 au 5 janv. 2026" in page
    assert "2 hors de l'intervalle" in page and "L'unité a changé : les résultats en g/L" in page
    assert page.count("<tr") == 5 and "131 g/L" in page and "ce document" in page  # every result in the table
    assert '<a href="/documents/a">' in page


def test_the_values_page_and_a_lab_result_render_their_charts() -> None:
    history = flagged_history({"loinc": "718-7", "display": "Hémoglobine", "results": [
        _result("b", "2025-06-01", 11.4, flag="L"), _result("d", "2026-01-05", 12.6)]})
    chart = charts.value_chart(history["results"], "de")
    page = environment("de").get_template("values.html").render(
        csrf="t", path="/documents/values/718-7", user=User(name="Claire"), history=history, chart=chart,
        loinc="718-7")
    assert "<h1 id=\"values-title\">Hémoglobine" in page and 'id="history"' in page and "Niedrig" in page

