"""The portal's two charts, drawn on the server as SVG (no script): the 'Ligne de vie' — a period's documents along
a time axis, one lane per type of document, each mark a link to its document — and an analyte's history — its
values over time, the reference range as a band, a value out of range marked by its shape (▲ high, ▼ low) as well
as its colour. Pure: geometry in, numbers out; the templates (`_charts.html`) write the elements, and a table next
to each chart says the same in words (the text equivalent).

Coordinates are SVG user units in a viewBox of the given width: a chart is drawn once per width it is shown at (a
phone's, a desktop's), so its text keeps its size."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from babel.dates import format_date

from . import i18n

HIT = 44  # a mark's touch target (WCAG 2.5.5), in user units: one CSS pixel each at the width drawn
LANE_LABEL = 22  # the lane's name above its marks
AXIS = 30  # the time axis under the lanes
SIDE = 12


def _instant(value: str | datetime) -> datetime:
    found = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    return found if found.tzinfo else found.replace(tzinfo=UTC)


@dataclass
class Mark:
    x: float
    y: float
    href: str
    label: str  # the document's title and date: the link's name
    shape: str  # "circle" (a lab result) or "square" (an upload)


@dataclass
class Lane:
    label: str
    y: float  # top of the lane
    height: float
    marks: list[Mark] = field(default_factory=list)


@dataclass
class Tick:
    x: float
    label: str


@dataclass
class Timeline:
    width: int
    height: float
    lanes: list[Lane]
    ticks: list[Tick]
    axis_y: float


def _months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def ticks(start: date, end: date, width: float, lang: str) -> list[tuple[date, str]]:
    """Dates to label between start and end (days, weeks, months or years: as many as fit, one per ~80 units)."""
    room = max(int(width // 80), 2)
    days = (end - start).days + 1
    locale = i18n.locale(lang)
    for step in (1, 2, 7, 14):
        if days / step <= room:
            return [(start + timedelta(days=n), format_date(start + timedelta(days=n), "d MMM", locale=locale))
                    for n in range(0, days, step)]
    for months, pattern in ((1, "MMM y"), (2, "MMM y"), (3, "MMM y"), (6, "MMM y"), (12, "y"), (24, "y"),
                            (60, "y"), (120, "y")):
        first = _months(start.replace(day=1), 0 if start.day == 1 else 1)
        if months >= 12:
            first = date(first.year + (first.month > 1), 1, 1)
        found = []
        at = first
        while at <= end:
            found.append((at, format_date(at, pattern, locale=locale)))
            at = _months(at, months)
        if len(found) <= room:
            return found
    return [(start, format_date(start, "y", locale=locale)), (end, format_date(end, "y", locale=locale))]


def timeline(items: Sequence[dict[str, Any]], start: date, end: date, width: int, lang: str,
             type_label: Callable[[str], str], href: Callable[[dict[str, Any]], str]) -> Timeline:
    """A period's documents (DocumentSummary dicts) on a time axis from `start` to `end` (both days included),
    one lane per type in the order first met; marks closer than a touch target share no row."""
    zone = i18n.ZONE
    t0 = datetime.combine(start, datetime.min.time(), zone)
    span = (datetime.combine(end + timedelta(days=1), datetime.min.time(), zone) - t0).total_seconds()
    left, right = SIDE + HIT / 2, width - SIDE - HIT / 2

    def x_of(at: datetime) -> float:
        share = min(max((at - t0).total_seconds() / span, 0.0), 1.0)
        return round(left + share * (right - left), 1)

    kinds: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        kinds.setdefault(item["document_type"], []).append(item)
    lanes, y = [], 0.0
    for kind, docs in kinds.items():
        rows: list[float] = []  # the last x placed in each row
        placed: list[tuple[dict[str, Any], float, int]] = []
        for doc in sorted(docs, key=lambda d: (_instant(d["document_date"]), d["id"])):
            x = x_of(_instant(doc["document_date"]))
            row = next((n for n, last in enumerate(rows) if x - last >= HIT), len(rows))
            if row == len(rows):
                rows.append(x)
            rows[row] = x
            placed.append((doc, x, row))
        lane = Lane(label=type_label(kind), y=y, height=LANE_LABEL + HIT * len(rows))
        for doc, x, row in placed:
            said = f"{doc['title']}, {i18n.when(doc['document_date'], lang, False)}"
            lane.marks.append(Mark(x=x, y=y + LANE_LABEL + HIT * row + HIT / 2, href=href(doc), label=said,
                                   shape="circle" if kind == "lab-result" else "square"))
        lanes.append(lane)
        y += lane.height + 8
    axis_y = max(y, LANE_LABEL + HIT) + 4
    labelled = [Tick(x=x_of(datetime.combine(day, datetime.min.time(), zone)), label=label)
                for day, label in ticks(start, end, width, lang)]
    return Timeline(width=width, height=axis_y + AXIS, lanes=lanes, ticks=labelled, axis_y=axis_y)


@dataclass
class Point:
    x: float
    y: float
    shape: str  # "circle": in range; "up": high; "down": low; "diamond": abnormal (no direction)
    current: bool  # the document the page shows


@dataclass
class ValueChart:
    width: int
    height: int
    unit: str | None
    points: list[Point]
    line: str  # the polyline's points
    band: tuple[float, float] | None  # y of the range's top and bottom
    band_label: str
    y_labels: list[tuple[float, str]]
    x_labels: list[tuple[float, str, str]]  # x, text, text-anchor
    plotted: list[dict[str, Any]]  # the results drawn (same unit, numeric)
    other_units: list[str]  # units of the results not drawn (a change of unit is shown, not plotted)


def flag(observation: dict[str, Any]) -> str | None:
    """A result's flag: the laboratory's, else from its range (H, L), else None."""
    code = observation.get("interpretation")
    value, low, high = observation.get("value"), observation.get("reference_low"), observation.get("reference_high")
    if not code and value is not None:
        code = "H" if high is not None and value > high else "L" if low is not None and value < low else None
    return code if code and code != "N" else None


def value_chart(results: Sequence[dict[str, Any]], lang: str, current: str | None = None, width: int = 340,
                height: int = 180) -> ValueChart:
    """An analyte's results (AnalyteResult dicts, oldest first) with the latest numeric result's unit: those in
    that unit are drawn, the others named (their units) and left to the table."""
    numeric = [r for r in results if r["observation"].get("value") is not None]
    unit = numeric[-1]["observation"].get("unit") if numeric else None
    plotted = [r for r in numeric if r["observation"].get("unit") == unit]
    others = sorted({str(r["observation"].get("unit")) for r in numeric if r["observation"].get("unit") != unit})
    left, right, top, bottom = 48, width - 16, 14, height - 30
    last = plotted[-1]["observation"] if plotted else {}
    low, high = last.get("reference_low"), last.get("reference_high")
    values = [float(r["observation"]["value"]) for r in plotted]
    known = values + [v for v in (low, high) if v is not None]
    lo, hi = (min(known), max(known)) if known else (0.0, 1.0)
    pad = (hi - lo) * 0.15 or abs(hi) * 0.1 or 1.0
    lo, hi = lo - pad, hi + pad

    def y_of(v: float) -> float:
        return round(bottom - (v - lo) / (hi - lo) * (bottom - top), 1)

    times = [_instant(r["document_date"]).timestamp() for r in plotted]
    t_lo, t_hi = (min(times), max(times)) if times else (0.0, 1.0)

    def x_of(t: float) -> float:
        if t_hi == t_lo:
            return round((left + right) / 2, 1)
        return round(left + (t - t_lo) / (t_hi - t_lo) * (right - left), 1)

    points = []
    for r, t, v in zip(plotted, times, values, strict=True):
        code = flag(r["observation"])
        shape = "circle" if code is None else "up" if code in ("H", "HH") else "down" if code in ("L", "LL") \
            else "diamond"
        points.append(Point(x=x_of(t), y=y_of(v), shape=shape, current=r["document_id"] == current))
    band = None
    if low is not None or high is not None:
        band = (y_of(high) if high is not None else top, y_of(low) if low is not None else bottom)
    def number(v: float) -> str:
        return i18n.number(v, lang)

    band_label = (f"{number(low)} – {number(high)}" if low is not None and high is not None
                  else f"≥ {number(low)}" if low is not None else f"≤ {number(high)}" if high is not None else "")
    y_labels = [(y_of(v), number(v)) for v in (low, high) if v is not None]
    if not y_labels and values:
        y_labels = [(y_of(min(values)), number(min(values))), (y_of(max(values)), number(max(values)))]
    x_labels: list[tuple[float, str, str]] = []
    if plotted:
        first = i18n.when(plotted[0]["document_date"], lang, False)
        x_labels.append((left if len(plotted) > 1 else x_of(times[0]), first,
                         "start" if len(plotted) > 1 else "middle"))
        if len(plotted) > 1:
            x_labels.append((right, i18n.when(plotted[-1]["document_date"], lang, False), "end"))
    return ValueChart(width=width, height=height, unit=unit, points=points,
                      line=" ".join(f"{p.x},{p.y}" for p in points), band=band, band_label=band_label,
                      y_labels=y_labels, x_labels=x_labels, plotted=plotted, other_units=others)
