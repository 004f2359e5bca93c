"""The HTML newsletter: subject, period and area in words, a chart, a table.

The chart is built from table cells, not an image: it renders in Outlook, Gmail and Apple
Mail alike, with images blocked, and needs no plotting library in the container. The layout
lives in templates/newsletter.html.j2, which is yours to restyle (copier update keeps it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import jinja2
import pandas as pd
from entsoe.mappings import Area

from .areas import area_in_words
from .documents import Document
from .feeds import Feed
from .transforms import Chart, energy_shares

CHART_HEIGHT_PX = 120
# The demo marks another zone's sample, relabelled to yours, by this prefix of its document
# mRID (local/demo_message.py): the mark travels with the document, so the newsletter says so.
SAMPLE_MRID_PREFIX = "SAMPLE-"
SAMPLE_NOTE = (
    "Sample data: the demo's bundled document of another zone, relabelled to {area}. "
    "These are not real values for {area}."
)
UNITS = {"MAW": "MW", "EUR/MWH": "EUR/MWh", "MWH": "MWh"}


@dataclass(frozen=True)
class Newsletter:
    subject: str
    html: str
    text: str


def period_in_words(start: pd.Timestamp, end: pd.Timestamp, tz: str) -> str:
    """'21 October 2025 15:00 to 24 October 2025 15:00 (Europe/Helsinki)'."""
    local_start, local_end = start.tz_convert(tz), end.tz_convert(tz)
    fmt = "%-d %B %Y %H:%M"
    return f"{local_start.strftime(fmt)} to {local_end.strftime(fmt)} ({tz})"


def days_in_words(start: pd.Timestamp, end: pd.Timestamp, tz: str) -> str:
    """The local days a window touches: '21 October 2025', '21–24 October 2025', '30 September – 2 October 2025'.

    The end is exclusive: a window to midnight ends the day before.
    """
    first, last = start.tz_convert(tz), (end - pd.Timedelta(1, "ns")).tz_convert(tz)
    if last < first or first.date() == last.date():
        return f"{first:%-d %B %Y}"
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}–{last:%-d %B %Y}"
    if first.year == last.year:
        return f"{first:%-d %B} – {last:%-d %B %Y}"
    return f"{first:%-d %B %Y} – {last:%-d %B %Y}"


def chart_caption(feed: Feed, unit: str, chart: Chart, peak: float) -> str:
    """What the bars are, and which peak: the table's Max is of single values, a bar's may be an average."""
    what = f"Total {feed.quantity}" if feed.aggregate == "sum" else feed.quantity.capitalize()
    hours = chart.bucket / pd.Timedelta(hours=1)
    width = "daily" if hours == 24 else "hourly" if hours == 1 else f"{hours:g}-hour"
    if chart.averaged:
        return f"{what} ({unit}), {width} averages: peak of {width} averages {_number(peak)}"
    return f"{what} ({unit}), {width} values: peak {_number(peak)}"


def _number(value: float, digits: int = 1) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:,.{digits}f}"


def _percent(value: float, signed: bool) -> str:
    if value is None or math.isnan(value):
        return "–"
    return f"{value * 100:+.1f}%" if signed else f"{value * 100:.1f}%"


def compose(
    feed: Feed, area: Area, document: Document, table: pd.DataFrame, chart: Chart, project_name: str
) -> Newsletter:
    words = area_in_words(area)
    period = period_in_words(document.period_start, document.period_end, area.tz)
    subject = f"{feed.title} in {words}, {days_in_words(document.period_start, document.period_end, area.tz)}"
    unit = UNITS.get(table["unit"].iloc[0], table["unit"].iloc[0]) if len(table) else ""
    top = max((b.value for b in chart.bars), default=0.0)
    bars = [
        {
            "label": b.start.tz_convert(area.tz).strftime("%-d %b %H:%M"),
            "value": _number(b.value),
            "px": max(1, round(CHART_HEIGHT_PX * b.value / top)) if top > 0 and b.value > 0 else 1,
        }
        for b in chart.bars
    ]
    share = feed.enrichment.compare == "share"
    rows = [
        {
            "series": name,
            "mean": _number(row["mean"]),
            "min": _number(row["min"]),
            "max": _number(row["max"]),
            "reference": _number(row["reference"]),
            "comparison": _percent(row["comparison"], signed=not share),
        }
        for name, row in table.iterrows()
    ]
    mix = [
        {"series": name, "share": _percent(share, signed=False), "width": max(1, round(share * 100))}
        for name, share in energy_shares(table).items()
    ]
    context = {
        "project_name": project_name,
        "title": f"{feed.title} in {words}",
        "subject": subject,
        "period": period,
        "area": words,
        "area_code": document.area,
        "unit": unit,
        "quantity": feed.quantity,
        "chart": bars,
        "chart_max": _number(top),
        "chart_caption": chart_caption(feed, unit or "", chart, top),
        "chart_height": CHART_HEIGHT_PX,
        "rows": rows,
        "mix": mix,
        "reference_title": feed.enrichment.title,
        "comparison_title": "Capacity factor" if share else "Difference",
        "has_reference": not table["reference"].isna().all() if "reference" in table else False,
        "document": document,
        "sample_note": SAMPLE_NOTE.format(area=words) if document.mrid.startswith(SAMPLE_MRID_PREFIX) else "",
    }
    html = _environment().get_template("newsletter.html.j2").render(**context)
    text = _plain_text(context)
    return Newsletter(subject=subject, html=html, text=text)


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).with_name("templates"))),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def _plain_text(c: dict) -> str:
    lines = [
        c["title"],
        c["period"],
        *([c["sample_note"]] if c["sample_note"] else []),
        "",
        f"{'Series':32} {'Mean':>12} {'Min':>12} {'Max':>12}  ({c['unit']})",
    ]
    lines += [f"{r['series'][:32]:32} {r['mean']:>12} {r['min']:>12} {r['max']:>12}" for r in c["rows"]]
    if c["mix"]:
        lines += ["", f"Share of {c['quantity']} over the period:"]
        lines += [f"  {m['series']}: {m['share']}" for m in c["mix"]]
    if c["has_reference"]:
        lines += ["", f"{c['reference_title']} / {c['comparison_title']}:"]
        lines += [f"  {r['series']}: {r['reference']} / {r['comparison']}" for r in c["rows"]]
    else:
        lines += ["", f"{c['reference_title']}: not published by ENTSO-E for this period."]
    lines += ["", f"Document {c['document'].mrid} revision {c['document'].revision}, area {c['area']}."]
    return "\n".join(lines)
