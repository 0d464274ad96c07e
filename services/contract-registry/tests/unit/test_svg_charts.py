"""The SVG builder and the contract page's charts (pure): well-formed SVG with a title and a
description, axes on round ticks, values where the scale puts them, limit lines at their
levels, text escaped, and an empty series drawn as "No data yet", never an error."""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from decimal import Decimal as D
from html.parser import HTMLParser
from types import SimpleNamespace
from typing import Any, cast

import pytest

from contract_registry.health.scoring import (
    CreditFact,
    InvoiceFact,
    ObligationFact,
    PeriodFacts,
    PeriodHealth,
    SlaFact,
    period_health,
)
from contract_registry.pages import charts
from contract_registry.pages.html import STYLE, STYLE_HASH, render_page
from contract_registry.pages.service import ContractView, PeriodWindow
from contract_registry.pages.svg import (
    BarSeries,
    Frame,
    LinearScale,
    LineSeries,
    bar_chart,
    esc,
    line_chart,
    nice_ticks,
    no_data,
    value_scale,
)

NS = {"s": "http://www.w3.org/2000/svg"}
TODAY = date(2026, 4, 20)


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def _title_and_desc(root: ET.Element) -> tuple[str, str]:
    title = root.find("s:title", NS)
    desc = root.find("s:desc", NS)
    assert title is not None and desc is not None
    labelled = root.get("aria-labelledby", "").split()
    assert labelled == [title.get("id"), desc.get("id")]
    assert root.get("role") == "img"
    return title.text or "", desc.text or ""


def _texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]


def _polylines(root: ET.Element, series: str) -> list[list[tuple[float, float]]]:
    group = root.find(f".//s:g[@data-series='{series}']", NS)
    assert group is not None, series
    return [
        [(float(x), float(y)) for x, y in (p.split(",") for p in line.get("points", "").split())]
        for line in group.findall("s:polyline", NS)
    ]


# --- ticks and scales -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lo", "hi", "ticks"),
    [
        (0, 97, [0, 20, 40, 60, 80, 100]),
        (0, 4414.08, [0, 1000, 2000, 3000, 4000, 5000]),
        (99.46, 99.95, [99.4, 99.5, 99.6, 99.7, 99.8, 99.9, 100.0]),
        (90, 96, [90, 92, 94, 96]),
        (96, 90, [90, 92, 94, 96]),  # given the wrong way round
    ],
)
def test_ticks_are_round_and_cover_the_values(lo: float, hi: float, ticks: list[float]) -> None:
    assert nice_ticks(lo, hi) == pytest.approx(ticks)


def test_a_single_value_still_gets_an_axis_around_it() -> None:
    ticks = nice_ticks(99.9, 99.9)
    assert ticks[0] < 99.9 < ticks[-1]
    assert nice_ticks(0, 0)[0] < 0 < nice_ticks(0, 0)[-1]


def test_the_scale_puts_values_on_pixels_with_y_growing_downwards() -> None:
    scale = LinearScale(0, 100, 264, 56)
    assert (scale(0), scale(100), scale(50)) == (264, 56, 160)
    assert LinearScale(5, 5, 264, 56)(5) == 160  # no span: the middle, not a division by 0


# --- escaping and the empty chart -----------------------------------------------------------


def test_text_is_escaped_once_and_reads_back_unchanged() -> None:
    hostile = "AVAIL <script>alert('x')</script> & \"co\""
    frame = Frame("x", hostile, f"desc {hostile}")
    svg = line_chart(frame, ["2026-03"], [LineSeries(hostile, [1.0], "#000")], hostile)
    assert "<script>" not in svg
    assert esc("a<b&'\"") == "a&lt;b&amp;&#39;&quot;"
    root = parse(svg)
    title, desc = _title_and_desc(root)
    assert (title, desc) == (hostile, f"desc {hostile}")
    assert hostile in _texts(root)


@pytest.mark.parametrize(
    "svg",
    [
        line_chart(Frame("a", "A", "a"), [], [], "%"),
        line_chart(Frame("b", "B", "b"), ["2026-03"], [LineSeries("s", [None], "#000")], "%"),
        bar_chart(Frame("c", "C", "c"), [], [BarSeries("s", [], "#000")], "USD"),
        charts.attainment_charts({}),
        charts.credits_leakage_chart([], "USD"),
        charts.obligations_chart([]),
        charts.health_chart([]),
    ],
)
def test_an_empty_series_is_a_no_data_chart(svg: str) -> None:
    root = parse(svg)
    _title_and_desc(root)
    assert "No data yet" in _texts(root)
    assert root.find(".//s:rect[@class='no-data']", NS) is not None
    assert root.find(".//s:rect[@class='bar']", NS) is None


def test_no_data_takes_another_message() -> None:
    assert "Nothing closed" in _texts(parse(no_data(Frame("n", "N", "n"), "Nothing closed")))


# --- lines ----------------------------------------------------------------------------------


def _attainment() -> tuple[str, list[charts.SlaPoint]]:
    points = [
        charts.SlaPoint("2026-01", D("99.95"), D("99.9"), D("99.5"), "met"),
        charts.SlaPoint("2026-02", None, D("99.9"), D("99.5"), "no_data"),
        charts.SlaPoint("2026-03", D("99.4609"), D("99.9"), D("99.5"), "failed"),
        charts.SlaPoint("2026-04", D("99.7"), D("99.9"), D("99.5"), "below_expected"),
    ]
    return charts.attainment_chart("AVAIL-CORE", "availability", points), points


def test_expected_and_minimum_lines_sit_at_their_levels() -> None:
    svg, points = _attainment()
    root = parse(svg)
    frame = Frame("attainment-AVAIL-CORE", "", "")
    values = [99.95, 99.4609, 99.7, 99.9, 99.5]
    scale, ticks = value_scale(frame, values, zero=False, pad=0.05)
    [expected] = _polylines(root, "expected")
    [minimum] = _polylines(root, "minimum")
    assert [y for _, y in expected] == pytest.approx([scale(99.9)] * 4, abs=0.01)
    assert [y for _, y in minimum] == pytest.approx([scale(99.5)] * 4, abs=0.01)
    assert len(expected) == len(points)  # the limit lines span every period
    # The y axis is labelled with the round ticks covering the values.
    assert ticks == pytest.approx([99.4, 99.6, 99.8, 100.0])
    assert {"99.4", "99.6", "99.8", "100"} <= set(_texts(root))
    assert {"2026-01", "2026-04"} <= set(_texts(root))


def test_a_period_without_data_breaks_the_line_and_shows_a_hollow_mark() -> None:
    svg, _ = _attainment()
    root = parse(svg)
    # 2026-01 alone, then 2026-03 → 2026-04: no line through the period nobody measured.
    assert [len(run) for run in _polylines(root, "attainment")] == [2]
    marks = root.findall(".//s:g[@data-series='attainment']/s:circle", NS)
    fills = [m.get("fill") for m in marks]
    assert fills == ["#2e7d32", "#fff", "#c62828", "#f9a825"]  # met, no data, failed, below
    tips = [m.findtext("s:title", namespaces=NS) for m in marks]
    assert tips[2] == "2026-03: 99.4609 (failed; expected 99.9, minimum 99.5)"
    assert tips[1] is not None and "no data" in tips[1]
    left, top, right, bottom = Frame("x", "", "").plot
    assert all(left <= float(m.get("cx", "0")) <= right for m in marks)
    assert all(top <= float(m.get("cy", "0")) <= bottom for m in marks)


def test_several_slas_stack_as_panels_of_one_document() -> None:
    _, points = _attainment()
    svg = charts.attainment_charts(
        {"P1-RES": ("incident_resolution", points[:1]), "AVAIL-CORE": ("availability", points)}
    )
    root = parse(svg)
    panels = root.findall(".//s:svg", NS)
    assert [p.get("id") for p in panels] == ["attainment-AVAIL-CORE", "attainment-P1-RES"]
    assert [p.get("y") for p in panels] == [None, "300"]
    assert int(root.get("height", "0")) >= 600


# --- bars -----------------------------------------------------------------------------------


def _heights(root: ET.Element, series: str) -> list[float]:
    group = root.find(f".//s:g[@data-series='{series}']", NS)
    assert group is not None
    return [float(r.get("height", "0")) for r in group.findall("s:rect", NS)]


def test_grouped_bars_are_proportional_to_their_values() -> None:
    frame = Frame("g", "G", "g")
    series = [
        BarSeries("credits", [4414.08, 0], "#000"),
        BarSeries("leakage", [4694.08, 280], "#111"),
    ]
    root = parse(bar_chart(frame, ["2026-03", "2026-04"], series, "USD"))
    scale, _ = value_scale(frame, [4414.08, 0, 4694.08, 280], zero=True)
    px = scale(0) - scale(1)
    assert _heights(root, "credits") == pytest.approx([4414.08 * px, 0], abs=0.01)
    assert _heights(root, "leakage") == pytest.approx([4694.08 * px, 280 * px], abs=0.01)


def test_stacked_bars_add_up_and_reach_y_max() -> None:
    frame = Frame("s", "S", "s")
    series = [BarSeries("on time", [2, 0], "#0"), BarSeries("late", [1, 3], "#1")]
    root = parse(bar_chart(frame, ["a", "b"], series, "n", stacked=True, y_max=10))
    scale, ticks = value_scale(frame, [3, 3, 10], zero=True)
    assert ticks[-1] == 10
    on_time, late = _heights(root, "on time"), _heights(root, "late")
    assert [a + b for a, b in zip(on_time, late, strict=True)] == pytest.approx(
        [scale(0) - scale(3)] * 2, abs=0.02
    )
    rects = root.findall(".//s:g[@data-series='late']/s:rect", NS)
    # The late segment of the first bar sits on top of the on-time one.
    assert float(rects[0].get("y", "0")) + late[0] == pytest.approx(scale(2), abs=0.01)


# --- the contract's charts ------------------------------------------------------------------


def _period(label: str, *, failed: bool) -> PeriodHealth:
    facts = PeriodFacts(label)
    outcome = "failed" if failed else "met"
    facts.slas = [SlaFact("AVAIL-CORE", "availability", outcome, D("99.4609"))]
    facts.credits = (
        [CreditFact("AVAIL-CORE", D("4414.08"), D("91960.00"), D("11035.20"))] if failed else []
    )
    facts.monthly_charges = D("91960.00")
    facts.invoices = [
        InvoiceFact("GLX-1", D("87545.92"), D("92240.00"), 2, {"consumption_error": D("280.00")})
    ]
    facts.obligations = [
        ObligationFact(date(2026, 4, 17), "fulfilled", False, date(2026, 4, 15)),
        ObligationFact(date(2026, 4, 1), "open", True, None),
        ObligationFact(date(2026, 5, 1), "open", False, None),
        ObligationFact(date(2026, 5, 1), "waived", False, None),
    ]
    return period_health(facts, TODAY)


def test_health_segments_add_up_to_the_score() -> None:
    march = _period("2026-03", failed=True)
    parts = charts.contributions(march)
    assert march.score is not None
    assert sum(parts.values(), D(0)) == pytest.approx(march.score, abs=D("0.01"))
    root = parse(charts.health_chart([march]))
    tips = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert any(t.startswith("2026-03: sla_outcomes scored 0.00 (weight 35)") for t in tips)
    assert len(root.findall(".//s:rect[@class='bar']", NS)) == 5


def test_obligations_count_on_time_late_and_open_but_not_waived() -> None:
    root = parse(charts.obligations_chart([_period("2026-03", failed=False)]))
    tips = [t.text for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert {"2026-03: 1 on time", "2026-03: 1 late", "2026-03: 1 open"} <= set(tips)


def test_credits_and_leakage_in_the_contract_currency() -> None:
    svg = charts.credits_leakage_chart([_period("2026-03", failed=True)], "EUR")
    root = parse(svg)
    tips = [t.text for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert "2026-03: credits 4414.08 EUR" in tips
    assert "2026-03: leakage 280.00 EUR in 1 invoice(s)" in tips
    assert "EUR" in _texts(root)


# --- the page -------------------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.style = ""
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style += data
            self._in_style = False


def _view(periods: list[PeriodHealth], slas: dict[str, Any]) -> ContractView:
    contract = SimpleNamespace(
        id=uuid.uuid4(),
        reference="GLX-<2026>",
        customer="Globex & <b>Co</b>",
        supplier="Initech",
        tenant_id="acme",
        status="active",
        currency="USD",
        timezone="America/New_York",
    )
    now = datetime(2026, 4, 20, 14, tzinfo=UTC)
    return ContractView(cast(Any, contract), TODAY, now, periods, slas)


def test_the_page_has_no_script_no_outside_reference_and_every_chart() -> None:
    _, points = _attainment()
    view = _view(
        [_period("2026-02", failed=False), _period("2026-03", failed=True)],
        {"AVAIL-CORE": ("availability", points)},
    )
    page = render_page(view, PeriodWindow(period_from="2026-01", last=6))
    parser = _Tags()
    parser.feed(page)
    tags = [t for t, _ in parser.tags]
    assert "script" not in tags and "link" not in tags and "img" not in tags
    urls = re.findall(r"(?:href|src)=\"([^\"]+)\"", page)
    assert urls and all(not re.match(r"[a-z]+:", u) and not u.startswith("//") for u in urls)
    assert set(re.findall(r"https?://[^\"' ]+", page)) == {"http://www.w3.org/2000/svg"}
    ids = {a.get("id") for t, a in parser.tags if t == "svg"}
    assert ids == {"health", "attainment-AVAIL-CORE", "credits-leakage", "obligations"}
    assert "Globex &amp; &lt;b&gt;Co&lt;/b&gt;" in page and "<b>Co" not in page
    assert 'href="charts/attainment.svg?period_from=2026-01&amp;last=6"' in page
    # The stylesheet is the one the Content-Security-Policy allows by its hash.
    assert parser.style == STYLE and STYLE_HASH.startswith("sha256-")
    assert '<p class="score" id="latest-score">' in page


def test_a_contract_without_figures_is_a_page_of_no_data_charts() -> None:
    page = render_page(_view([], {}), PeriodWindow())
    assert page.count("No data yet") == 4
    assert "No period has a score yet." in page


# --- which periods ----------------------------------------------------------------------------


def test_the_window_leaves_out_periods_not_begun_unless_asked_for() -> None:
    labels = {"2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2027-01", "2026-Q1"}
    # Obligations due in later months open periods of their own: not on today's page.
    assert PeriodWindow().pick(labels, TODAY) == [
        "2026-01",
        "2026-Q1",
        "2026-02",
        "2026-03",
        "2026-04",
    ]
    assert PeriodWindow(last=2).pick(labels, TODAY) == ["2026-03", "2026-04"]
    assert PeriodWindow(period_from="2026-03", period_to="2027-01").pick(labels, TODAY) == [
        "2026-03",
        "2026-04",
        "2026-05",
        "2027-01",
    ]
    assert PeriodWindow().pick(set(), TODAY) == []
