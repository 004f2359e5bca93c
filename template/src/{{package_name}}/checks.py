"""Checks on a document's values before anything is written to the tables or emailed (pandera).

One schema per kind of document: types and units; non-negative where physics says so
(generation, load, forecasts and capacity; prices may be negative; a pumped-storage
consumption series is its own series, positive like the rest); no duplicate (series,
resolution, timestamp); every timestamp on its resolution's grid; and no more values in a
market day than the day has slots (23- and 25-hour days at the daylight-saving switches
included). Day-ahead prices come in whole market days (CET, the coupled market's day), so a
price series must fill each day it touches: 92, 96 or 100 quarter hours, 23, 24 or 25 hours,
PT60M before the 2025 move to 15-minute prices and PT15M after (both are allowed either side:
some documents carry both sequences).

Plausibility: no power value above MAX_POWER_MW, no price outside the day-ahead market's
harmonised limits (PRICE_LIMITS); each intraday series holds at least MIN_COMPLETENESS of the
slots between its first and last value; the document is for the project's area. A small
negative power value (down to -SMALL_NEGATIVE_MW: metering noise, pumping netted out) is kept
and reported as a warning rather than refusing the whole document.

A violation raises DataCheckError naming the document, the series and the rule. The raw message
is already landed by then, so `replay` processes it again once the cause is fixed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from .areas import area_for_code
from .documents import Document
from .feeds import Feed
from .transforms import labelled

MARKET_TZ = "Europe/Brussels"  # the single day-ahead coupling's market day (CET/CEST)
POWER_UNITS = ["MAW"]
PRICE_UNITS = ["EUR/MWH"]
MAX_POWER_MW = 200_000.0  # no bidding zone generates, consumes or forecasts more (DE-LU peaks near 80 GW)
# SDAC's harmonised minimum and maximum clearing prices, EUR/MWh (ACER Decision 01/2023 on the
# HMMCP methodology). The maximum rises by rule after a price near it: raise this with it.
PRICE_LIMITS = (-500.0, 4000.0)
SMALL_NEGATIVE_MW = 1.0
MIN_COMPLETENESS = 0.75
INTRADAY_RESOLUTIONS = [pd.Timedelta(minutes=m) for m in (15, 30, 60)]
LONG_RESOLUTIONS = [pd.Timedelta(days=d) for d in (1, 7, 28, 29, 30, 31, 365, 366)]


class DataCheckError(ValueError):
    """A document's values break a rule; nothing is written to the tables, nothing is emailed."""


def _is_price(feed: Feed, document: Document) -> bool:
    return document.document_type == "A44"


def _slots(days: pd.Series, resolution: pd.Series) -> pd.Series:
    """How many intervals of `resolution` fit in each local day (23, 24 or 25 hours long)."""
    next_days = days + pd.DateOffset(days=1)  # wall-clock midnight to midnight, so DST days differ
    return (next_days - days) / resolution


def _market_days(data: pd.DataFrame, tz: str) -> pd.Series:
    return data["start"].dt.tz_convert(tz).dt.normalize()


def _on_grid(data: pd.DataFrame) -> pd.Series:
    short = data["resolution"] <= pd.Timedelta(hours=1)
    offset = (data["start"] - data["start"].dt.floor("D")) % data["resolution"].where(short, pd.Timedelta(days=1))
    return ~short | (offset == pd.Timedelta(0))


def _day_counts(data: pd.DataFrame, tz: str) -> tuple[pd.Series, pd.Series]:
    short = data["resolution"] <= pd.Timedelta(hours=1)
    days = _market_days(data, tz)
    counts = data.groupby([data["series"], data["resolution"], days], observed=True)["start"].transform("size")
    expected = _slots(days, data["resolution"]).where(short, np.inf)
    return counts, expected


def _completeness(data: pd.DataFrame) -> pd.Series:
    """Per row: the share of its series' slots (first value to last, on its resolution) that hold a value."""
    groups = data.groupby([data["series"], data["resolution"]], observed=True)["start"]
    span = groups.transform("max") + data["resolution"] - groups.transform("min")
    slots = span / data["resolution"]
    share = groups.transform("size") / slots
    return share.where(data["resolution"] <= pd.Timedelta(hours=1), 1.0)


def _fits(counts: pd.Series, expected: pd.Series) -> pd.Series:
    return counts <= expected


def _fills(counts: pd.Series, expected: pd.Series) -> pd.Series:
    return (counts == expected) | np.isinf(expected)


def schema(feed: Feed, document: Document) -> pa.DataFrameSchema:
    price = _is_price(feed, document)
    tz = MARKET_TZ if price else area_for_code(document.area).tz
    value_checks = [pa.Check(lambda v: np.isfinite(v), element_wise=False, name="finite value")]
    if price:
        low, high = PRICE_LIMITS
        value_checks.append(
            pa.Check(
                lambda v: (v >= low) & (v <= high), name=f"within the harmonised price limits ({low:g} to {high:g})"
            )
        )
    else:
        value_checks += [
            pa.Check(
                lambda v: v >= -SMALL_NEGATIVE_MW,
                name=f"non-negative (generation, load, capacity; down to -{SMALL_NEGATIVE_MW:g} MW is noise)",
            ),
            pa.Check(lambda v: v <= MAX_POWER_MW, name=f"at most {MAX_POWER_MW:,.0f} MW"),
        ]
    frame_checks = [
        pa.Check(
            lambda d: ~d.duplicated(["series", "resolution", "start"], keep=False),
            name="no duplicate (series, timestamp)",
        ),
        pa.Check(_on_grid, name="timestamps on the resolution's grid"),
        pa.Check(
            lambda d: _completeness(d) >= MIN_COMPLETENESS,
            name=f"each series holds {MIN_COMPLETENESS:.0%} of the slots between its first and last value",
        ),
        pa.Check(
            lambda d: _fits(*_day_counts(d, tz)),
            name=f"at most one value per slot of the market day ({tz}; 23/24/25 hours)",
        ),
    ]
    if price:
        frame_checks.append(
            pa.Check(
                lambda d: _fills(*_day_counts(d, tz)),
                name=f"day-ahead prices fill whole market days ({tz}: 92/96/100 x PT15M or 23/24/25 x PT60M)",
            )
        )
    return pa.DataFrameSchema(
        {
            "start": pa.Column(pd.DatetimeTZDtype("ns", "UTC")),
            "resolution": pa.Column(
                "timedelta64[ns]",
                pa.Check(
                    lambda r: r.isin(INTRADAY_RESOLUTIONS + LONG_RESOLUTIONS),
                    name="resolution PT15M, PT30M, PT60M or a day and longer",
                ),
            ),
            "series": pa.Column(str),
            "value": pa.Column(float, value_checks),
            "unit": pa.Column(str, pa.Check(lambda u: u.isin(PRICE_UNITS if price else POWER_UNITS), name="unit")),
        },
        checks=frame_checks,
    )


def check(document: Document, frame: pd.DataFrame, feed: Feed, area: str | None = None) -> list[str]:
    """Raises DataCheckError naming the document, the series and the broken rules; returns the
    warnings of a document that passes (small negative values, missing slots).

    `area`: the EIC code the project is set up for; a document for another area is refused.
    """
    if area is not None and document.area != area:
        raise DataCheckError(
            f"document {document.mrid} revision {document.revision} is for area {document.area}, "
            f"not the project's {area}"
        )
    if frame.empty:
        return []
    data = labelled(frame, feed)[["start", "resolution", "series", "value", "unit"]]
    data = data.assign(series=data["series"].astype(str), unit=data["unit"].astype(str))
    try:
        schema(feed, document).validate(data, lazy=True)
    except SchemaErrors as errors:
        raise DataCheckError(_describe(document, data, errors.failure_cases)) from None
    return _warnings(document, data, feed)


def _warnings(document: Document, data: pd.DataFrame, feed: Feed) -> list[str]:
    found = []
    if not _is_price(feed, document):
        negative = data[data["value"] < 0]
        if len(negative):
            series = ", ".join(sorted(set(negative["series"])))
            found.append(
                f"{len(negative)} small negative values kept (series {series}, lowest {negative['value'].min():g})"
            )
    incomplete = data[_completeness(data) < 1.0]
    if len(incomplete):
        found.append(
            f"series {', '.join(sorted(set(incomplete['series'])))} miss some slots between their first and last value"
        )
    return found


def _describe(document: Document, data: pd.DataFrame, failures: pd.DataFrame) -> str:
    lines = []
    for rule, cases in failures.groupby("check", sort=False):
        rows = [i for i in cases["index"].dropna().tolist() if i in data.index]
        series = sorted(set(data.loc[rows, "series"])) if rows else ["(all)"]
        if len(series) > 4:
            series = [*series[:4], f"and {len(series) - 4} more"]
        first = data.loc[rows[0], "start"] if rows else None
        where = f", first at {first:%Y-%m-%d %H:%M} UTC" if first is not None else ""
        lines.append(f"rule '{rule}' broken by series {', '.join(series)} ({len(cases)} values{where})")
    return f"document {document.mrid} revision {document.revision} fails its data checks: " + "; ".join(lines)
