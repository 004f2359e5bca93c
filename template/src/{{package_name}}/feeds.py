"""The four ENTSO-E feeds: what each document is, how to query it, and what enriches it.

Each enrichment is a second entsoe-py query that puts the pushed document in context:
installed capacity for generation, the latest forecast for a day-ahead forecast, the
day-ahead forecast for actual load, the previous day for prices.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import pandas as pd
from entsoe.entsoe import EntsoeRawClient

from .documents import Document

Query = Callable[[EntsoeRawClient, str, pd.Timestamp, pd.Timestamp], str]


@dataclass(frozen=True)
class Enrichment:
    title: str  # column heading in the newsletter, e.g. "Installed capacity"
    compare: Literal["share", "change"]  # mean / reference, or (mean - reference) / reference
    query: Callable[[EntsoeRawClient, str, Document], str]
    period: Callable[[Document], tuple[pd.Timestamp, pd.Timestamp]]


@dataclass(frozen=True)
class Feed:
    name: str
    document_type: str
    title: str
    quantity: str  # what one value is, e.g. "generation"
    aggregate: Literal["sum", "mean"]  # how series combine into the chart's total
    query: Query
    enrichment: Enrichment
    # The longest period one API request may ask for (a backfill's chunk): ENTSO-E serves
    # generation, load and forecasts a year per request (entsoe-py wraps those queries in
    # `year_limited`, entsoe/entsoe.py v0.8.0 lines 1468, 1567, 1605), and day-ahead prices at
    # most 100 daily instances ("The number of instances (365) exceeds the allowed maximum (100)
    # for data item ENERGY_PRICES", EnergieID/entsoe-py#481; `documents_limited(100)`, line 1311).
    request_months: int = 12


def _same_period(document: Document) -> tuple[pd.Timestamp, pd.Timestamp]:
    return document.period_start, document.period_end


def _previous_day(document: Document) -> tuple[pd.Timestamp, pd.Timestamp]:
    day = pd.Timedelta(days=1)
    return document.period_start - day, document.period_end - day


def _calendar_year(document: Document) -> tuple[pd.Timestamp, pd.Timestamp]:
    year = document.period_start.year
    return pd.Timestamp(f"{year}-01-01", tz="UTC"), pd.Timestamp(f"{year + 1}-01-01", tz="UTC")


def _other_forecast(client: EntsoeRawClient, area: str, document: Document) -> str:
    """Compare a day-ahead forecast with the current one, and any other with the day-ahead."""
    process_type = "A18" if document.process_type == "A01" else "A01"
    start, end = _same_period(document)
    return client.query_wind_and_solar_forecast(area, start, end, process_type=process_type)


FEEDS: dict[str, Feed] = {
    "actual_generation": Feed(
        name="actual_generation",
        document_type="A75",
        title="Actual generation",
        quantity="generation",
        aggregate="sum",
        query=lambda c, area, start, end: c.query_generation(area, start, end),
        enrichment=Enrichment(
            title="Installed capacity",
            compare="share",
            query=lambda c, area, doc: c.query_installed_generation_capacity(area, *_calendar_year(doc)),
            period=_calendar_year,
        ),
    ),
    "wind_solar_forecast": Feed(
        name="wind_solar_forecast",
        document_type="A69",
        title="Wind and solar forecast",
        quantity="forecast generation",
        aggregate="sum",
        query=lambda c, area, start, end: c.query_wind_and_solar_forecast(area, start, end),
        enrichment=Enrichment(
            title="Other forecast",
            compare="change",
            query=_other_forecast,
            period=_same_period,
        ),
    ),
    "total_load": Feed(
        name="total_load",
        document_type="A65",
        title="Total load",
        quantity="load",
        aggregate="sum",
        query=lambda c, area, start, end: c.query_load(area, start, end),
        enrichment=Enrichment(
            title="Day-ahead forecast",
            compare="change",
            query=lambda c, area, doc: c.query_load_forecast(area, *_same_period(doc)),
            period=_same_period,
        ),
    ),
    "day_ahead_prices": Feed(
        name="day_ahead_prices",
        document_type="A44",
        title="Day-ahead prices",
        quantity="price",
        aggregate="mean",
        query=lambda c, area, start, end: c.query_day_ahead_prices(area, start, end),
        enrichment=Enrichment(
            title="Previous day",
            compare="change",
            query=lambda c, area, doc: c.query_day_ahead_prices(area, *_previous_day(doc)),
            period=_previous_day,
        ),
        request_months=3,  # at most 92 days: under the 100 daily prices one request may hold
    ),
}
