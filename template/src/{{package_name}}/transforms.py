"""From a document's long table to what a reader wants: one row per series, one chart.

Pure functions on pandas frames (documents.COLUMNS), so they are tested on real documents
without a server.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from entsoe.mappings import PSRTYPE_MAPPINGS

from .areas import area_for_code
from .feeds import Feed

HOUR = pd.Timedelta(hours=1)


def series_label(psr_type: str, direction: str, feed: Feed) -> str:
    if psr_type:
        name = PSRTYPE_MAPPINGS.get(psr_type, psr_type)
        # Out-domain series inside a generation document are consumption (pumped storage).
        return f"{name} (consumption)" if direction == "out" and feed.name != "total_load" else name
    return feed.title


def _split_pair(pair: str) -> tuple[str, str]:
    psr_type, _, direction = pair.partition("|")
    return psr_type, direction


def labelled(frame: pd.DataFrame, feed: Feed) -> pd.DataFrame:
    """Adds `series` (a readable name) and `hours` (each value's duration)."""
    out = frame.copy()
    # Label each (psr_type, direction) pair once, not each of a document's many rows.
    pairs = out["psr_type"].astype(str) + "|" + out["direction"].astype(str)
    out["series"] = pairs.map({pair: series_label(*_split_pair(pair), feed) for pair in pairs.unique()})
    out["hours"] = pd.to_timedelta(out["resolution"]) / HOUR
    return out


def series_table(frame: pd.DataFrame, feed: Feed) -> pd.DataFrame:
    """Mean, min, max (time-weighted mean) per series; energy in MWh for MW series."""
    data = labelled(frame, feed)
    data["weighted"] = data["value"] * data["hours"]
    grouped = data.groupby("series", sort=False)
    table = pd.DataFrame(
        {
            "mean": grouped["weighted"].sum() / grouped["hours"].sum(),
            "min": grouped["value"].min(),
            "max": grouped["value"].max(),
            "unit": grouped["unit"].first().astype(str),
        }
    )
    if feed.aggregate == "sum":
        table["energy_mwh"] = grouped["weighted"].sum()
    return table.sort_values("mean", ascending=False)


def with_reference(table: pd.DataFrame, reference: pd.DataFrame | None, feed: Feed) -> pd.DataFrame:
    """Adds the enrichment's mean per series and the comparison the feed asks for."""
    table = table.copy()
    if reference is None or reference.empty:
        table["reference"] = np.nan
        table["comparison"] = np.nan
        return table
    ref = series_table(reference, feed)["mean"]
    table["reference"] = ref.reindex(table.index)
    if feed.enrichment.compare == "share":
        table["comparison"] = table["mean"] / table["reference"]
    else:
        table["comparison"] = (table["mean"] - table["reference"]) / table["reference"].abs()
    table.loc[~np.isfinite(table["comparison"]), "comparison"] = np.nan
    return table


def energy_shares(table: pd.DataFrame) -> pd.Series:
    """Each series' share of the energy over the period (the mix), largest first; empty without a mix.

    Only for feeds that add up (energy_mwh), with more than one series; consumption inside a
    generation document is not part of the mix.
    """
    if "energy_mwh" not in table:
        return pd.Series(dtype=float)
    energy = table["energy_mwh"][~table.index.str.endswith("(consumption)")].clip(lower=0)
    if len(energy) < 2 or energy.sum() <= 0:
        return pd.Series(dtype=float)
    return (energy / energy.sum()).sort_values(ascending=False)


def trim(frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """The API answers in whole days (or years); keep the values that overlap what was asked for."""
    overlaps = (frame["start"] < end) & (frame["start"] + frame["resolution"] > start)
    return frame[overlaps].reset_index(drop=True)


@dataclass(frozen=True)
class Bar:
    start: pd.Timestamp  # the bucket's start on the local grid (local time)
    value: float  # the bucket's total or mean, averaged over the time it has data for
    hours: float  # how much of the bucket has data (the first and last can be partial)


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    bucket: pd.Timedelta  # each bar's width
    averaged: bool  # bars average several values (a bucket wider than the data's resolution)


# Bucket widths that tile a day, so every bar starts at a round local hour.
_BUCKET_HOURS = (1, 2, 3, 4, 6, 8, 12, 24)


def chart_bars(frame: pd.DataFrame, feed: Feed, max_bars: int = 48, tz: str | None = None) -> Chart:
    """The feed's total (sum) or average (mean) per time bucket, at most `max_bars` buckets.

    Buckets lie on the local grid of `tz` (by default the area's time zone), as the newsletter
    labels them: 3-hour bars start at 00:00, 03:00 ... local time. Values of mixed resolutions
    are weighted by their duration, so a PT15M and a PT60M series in one document add up
    correctly, and a total is the mean power over the part of the bucket that has data.
    """
    if frame.empty:
        return Chart([], HOUR, averaged=False)
    tz = tz or area_for_code(str(frame["area"].iloc[0])).tz
    data = labelled(frame, feed)
    if feed.aggregate == "sum":
        # A total adds what flows in one direction (generation, or load), not consumption.
        main = "out" if feed.name == "total_load" else "in"
        data = data[data["direction"].astype(str) == main]
    span_hours = (data["start"].max() + data["resolution"].max() - data["start"].min()) / HOUR
    wanted = span_hours / max_bars
    bucket = pd.Timedelta(hours=next((h for h in _BUCKET_HOURS if h >= wanted), 24))  # daily at the most
    local = data["start"].dt.tz_convert(tz).dt.tz_localize(None)  # wall-clock time
    data = data.assign(
        bucket=local.dt.floor(bucket),
        end=data["start"] + data["resolution"],
        weighted=data["value"] * data["hours"],
    )
    grouped = data.groupby("bucket")
    span = grouped["end"].max() - grouped["start"].min()
    covered = span.dt.total_seconds() / 3600  # real hours, DST included
    if feed.aggregate == "sum":
        values = grouped["weighted"].sum() / covered
    else:
        values = grouped["weighted"].sum() / grouped["hours"].sum()
    averaged = bucket > data["resolution"].min()
    bars = [
        Bar(start=_localize(ts, tz), value=float(v), hours=float(h))
        for ts, v, h in zip(values.index, values, covered, strict=True)
    ]
    return Chart(bars, bucket, averaged=bool(averaged))


def _localize(wall_clock: pd.Timestamp, tz: str) -> pd.Timestamp:
    """A bucket's local start as a time-zone-aware time (summer time where a clock hour repeats)."""
    return pd.Timestamp(wall_clock).tz_localize(tz, ambiguous=True, nonexistent="shift_forward")


def select_sequence(frame: pd.DataFrame, sequence: str) -> pd.DataFrame:
    """Only the given classification sequence, where a document has several (DE-LU/AT prices)."""
    if "sequence" not in frame or frame["sequence"].nunique() < 2 or sequence not in set(frame["sequence"]):
        return frame
    return frame[frame["sequence"] == sequence].reset_index(drop=True)
