"""Geometry of the server-rendered SVG charts: the template only draws what is computed here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape

LABEL_WIDTH = 230
BAR_AREA = 400
ROW_HEIGHT = 22
BAR_HEIGHT = 15
COLOURS = {
    "green": "#2e7d32",
    "amber": "#c77c02",
    "red": "#c62828",
    "grey": "#8a8f95",
    "blue": "#1565c0",
}


@dataclass
class Segment:
    """A part of a bar: its value, where it is drawn, and the drill-down link behind it."""

    x: float
    width: float
    value: int
    colour: str
    href: str
    title: str


@dataclass
class BarRow:
    label: str
    y: float
    segments: list[Segment]
    total: int
    total_x: float


@dataclass
class BarChart:
    """Horizontal stacked bars, one row per municipality."""

    rows: list[BarRow]
    legend: list[tuple[str, Any]]
    width: int = LABEL_WIDTH + BAR_AREA + 60
    height: int = 0
    label_width: int = LABEL_WIDTH
    bar_height: int = BAR_HEIGHT


def stacked_bars(
    rows: list[tuple[str, list[tuple[int, str, str]]]], series: list[tuple[str, Any]]
) -> BarChart:
    """rows: (label, [(value, href, title) per series]); series: (colour name, legend text)."""
    biggest = max((sum(v for v, _, _ in values) for _, values in rows), default=0) or 1
    scale = BAR_AREA / biggest
    out = []
    for index, (label, values) in enumerate(rows):
        x = float(LABEL_WIDTH)
        segments = []
        for (value, href, title), (colour, _legend) in zip(values, series, strict=True):
            width = value * scale
            if value:
                segments.append(Segment(x, max(width, 2.0), value, COLOURS[colour], href, title))
            x += width
        total = sum(v for v, _, _ in values)
        out.append(BarRow(label, index * ROW_HEIGHT + 4, segments, total, x + 6))
    chart = BarChart(out, [(COLOURS[c], text) for c, text in series])
    chart.height = len(rows) * ROW_HEIGHT + 8
    return chart


@dataclass
class Column:
    x: float
    y: float
    height: float
    value: int
    label: str
    href: str


@dataclass
class Histogram:
    """Vertical bars of a distribution (cycle time buckets)."""

    columns: list[Column] = field(default_factory=list)
    width: int = 330
    height: int = 150
    base: int = 120
    column_width: int = 44


def histogram(values: list[int], labels: list[str], hrefs: list[str]) -> Histogram:
    """Bars of `values` scaled into the chart's height, each linked to its instances."""
    chart = Histogram()
    biggest = max(values, default=0) or 1
    room = chart.base - 16
    for index, (value, label, href) in enumerate(zip(values, labels, hrefs, strict=True)):
        height = value / biggest * room
        x = 8 + index * (chart.column_width + 10)
        chart.columns.append(Column(x, chart.base - height, height, value, label, href))
    return chart


@dataclass
class GridGroup:
    """The schools of one municipality as a block of coloured squares (pre-rendered SVG)."""

    label: str
    cells: Markup
    height: int


SIZE = 14
GAP = 3
PER_LINE = 40


def school_grid(groups: list[tuple[str, list[tuple[str, str, str]]]]) -> list[GridGroup]:
    """groups: (municipality, [(colour name, href, title) per school]).

    1,500 squares are drawn here rather than in Jinja: one escaped string per municipality
    keeps the region-wide page fast; every text and address put into it is escaped.
    """
    out = []
    for label, schools in groups:
        parts = [
            f'<a href="{escape(href)}"><rect class="school-cell" '
            f'x="{(i % PER_LINE) * (SIZE + GAP)}" y="{(i // PER_LINE) * (SIZE + GAP)}" '
            f'width="{SIZE}" height="{SIZE}" rx="2" fill="{COLOURS[colour]}">'
            f"<title>{escape(title)}</title></rect></a>"
            for i, (colour, href, title) in enumerate(schools)
        ]
        lines = max(1, -(-len(schools) // PER_LINE))
        # Every value above is escaped (href and title) or is a number or a constant colour.
        cells = Markup("".join(parts))  # noqa: S704
        out.append(GridGroup(label, cells, lines * (SIZE + GAP)))
    return out
