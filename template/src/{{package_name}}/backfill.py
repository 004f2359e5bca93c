# pyiceberg's expression classes (And, EqualTo, ...) take positional arguments through a
# custom __init__ that pyright reads as the pydantic model's keyword-only one.
# pyright: reportCallIssue=false
"""Backfill: a range of market days of one or more areas from the ENTSO-E API into the tables.

Safe to run, and to run again:
- every chunk is one API request as long as ENTSO-E allows (`Feed.request_months`: a year for
  generation, load and forecasts, three months for prices), so two years of one zone is two
  requests, and the area and feed travel with every chunk as parameters;
- a chunk whose days the history table already covers is skipped (resume), so a re-run sends
  requests only for what is missing;
- a circuit breaker stops the backfill after `max_failures_in_a_row` chunks fail in a row (a
  revoked key, a missing rate limit): one failed run that names the cause, not one per chunk;
- chunks run one after another in this process unless there are more than FAN_OUT_ABOVE of
  them and the backfill-chunk deployment exists; then each is its own run (on AWS its own ECS
  task), the first alone until one lands, and the parent waits for them with one API call per
  poll, backing off to POLL_MAX_S;
- no chunk starts that could not finish before the parent's own deadline.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from datetime import date

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound
from pyiceberg.expressions import And, EqualTo, GreaterThan, GreaterThanOrEqual, LessThan

from . import defaults
from .checks import MARKET_TZ
from .entsoe_api import Fetched, fetch, load_api_key, make_client
from .feeds import FEEDS, Feed
from .lake import open_lake
from .settings import Settings
from .tables import VersionedTable, open_catalog, open_tables, table_names
from .transforms import trim

CHUNK_DEPLOYMENT = f"backfill-chunk/{defaults.PROJECT_SLUG}-backfill-chunk"
CHUNK_TIMEOUT_S = 30 * 60
BACKFILL_TIMEOUT_S = 6 * 3600
# In this process a year chunk takes seconds to a minute (fetch, read, land); an ECS task
# first needs a minute or more to be placed and pull the image. Below this many chunks one
# process is faster and starts no task at all (benchmarks/backfill_rate.py measures it).
FAN_OUT_ABOVE = 8
POLL_MIN_S = 2.0
POLL_MAX_S = 30.0  # waiting on children: one read_flow_runs call per poll, at least this often
MAX_FAILURES_IN_A_ROW = 3


class BackfillStopped(RuntimeError):
    """The circuit breaker opened: chunks failed in a row for a cause retrying cannot fix."""


@dataclass(frozen=True, order=True)
class Chunk:
    """One API request's worth of a backfill: [start, end) in the area's market days."""

    area: str  # entsoe-py Area name, e.g. FI or NO_5
    start: date
    end: date

    def __str__(self) -> str:
        return f"{self.area} {self.start} to {self.end}"

    def span(self, feed: Feed) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The chunk in UTC: from midnight to midnight of the days ENTSO-E publishes the feed in,
        the area's own, or for prices the coupled market's (CET), so a price day stays whole."""
        tz = MARKET_TZ if feed.document_type == "A44" else area_named(self.area).tz
        start, end = (pd.Timestamp(d).tz_localize(tz).tz_convert("UTC") for d in (self.start, self.end))
        return start, end


@dataclass
class Breaker:
    """Counts chunks that failed in a row; opens at `limit`, keeping the last cause."""

    limit: int
    in_a_row: int = 0
    cause: str = ""

    def record(self, ok: bool, cause: str = "") -> None:
        self.in_a_row = 0 if ok else self.in_a_row + 1
        self.cause = cause or self.cause

    @property
    def open(self) -> bool:
        return self.in_a_row >= self.limit


@dataclass
class Outcome:
    done: dict[Chunk, str] = field(default_factory=dict)  # chunk -> "landed", "no data", "already landed", ...
    failed: dict[Chunk, str] = field(default_factory=dict)  # chunk -> why
    not_started: list[Chunk] = field(default_factory=list)
    polls: int = 0
    started_runs: int = 0


@dataclass
class Attempts:
    """The chunks still to run, in order; a failed one comes back at the end, `retries` times."""

    queue: deque[Chunk]
    retries: int
    breaker: Breaker
    outcome: Outcome
    tries: dict[Chunk, int] = field(default_factory=dict)

    def take(self) -> Chunk:
        chunk = self.queue.popleft()
        self.tries[chunk] = self.tries.get(chunk, 0) + 1
        return chunk

    def succeeded(self, chunk: Chunk, status: str) -> None:
        self.outcome.done[chunk] = status
        self.outcome.failed.pop(chunk, None)
        self.breaker.record(True)

    def failed(self, chunk: Chunk, cause: str) -> None:
        self.breaker.record(False, cause)
        if self.tries[chunk] <= self.retries:
            self.queue.append(chunk)
        else:
            self.outcome.failed[chunk] = cause

    def stop(self) -> None:
        """Nothing more starts: what is left is reported as not started."""
        self.outcome.not_started.extend(self.queue)
        self.queue.clear()


def area_named(name: str):
    from entsoe.mappings import Area

    try:
        return Area[name]
    except KeyError:
        raise ValueError(f"area {name!r} is not an entsoe-py Area name (e.g. DE_LU, FR, FI, NO_5)") from None


def feed_named(name: str) -> Feed:
    try:
        return FEEDS[name]
    except KeyError:
        raise ValueError(f"feed {name!r} is not one of {', '.join(FEEDS)}") from None


def plan(start: date, end: date, areas: list[str], feed: Feed, chunk_days: int | None = None) -> list[Chunk]:
    """The chunks of [start, end) for each area: the longest requests the API allows, or `chunk_days`."""
    if end <= start:
        raise ValueError(f"backfill end ({end}) must be after start ({start})")
    if chunk_days is not None and chunk_days < 1:
        raise ValueError(f"chunk_days must be at least 1, got {chunk_days}")
    step = pd.DateOffset(days=chunk_days) if chunk_days else pd.DateOffset(months=feed.request_months)
    longest = pd.Timestamp(start) + pd.DateOffset(months=feed.request_months)
    if chunk_days and pd.Timestamp(start) + step > longest:
        raise ValueError(
            f"chunk_days={chunk_days} asks for more than one request of {feed.name} may hold "
            f"({feed.request_months} months): leave chunk_days unset to use the longest"
        )
    bounds: list[date] = []
    cursor = pd.Timestamp(start)
    while cursor < pd.Timestamp(end):
        bounds.append(cursor.date())
        cursor = cursor + step
    bounds.append(end)
    return [Chunk(area_named(a).name, s, e) for a in areas for s, e in zip(bounds, bounds[1:], strict=False)]


def landed_already(table: VersionedTable, chunk: Chunk, feed: Feed) -> bool:
    """Whether the history table holds values of the chunk's area over every instant of it.

    Each row carries its series' span in the document it came from (tables.rows); the chunk
    is covered when the union of those spans covers it. A period ENTSO-E has no data for
    stays uncovered and is asked again, which costs one request.
    """
    start, end = chunk.span(feed)
    code = area_named(chunk.area).code
    table.versions.refresh()
    found = table.versions.scan(
        row_filter=And(
            EqualTo("area", code),
            And(
                GreaterThanOrEqual("interval_start", (start - pd.Timedelta(days=1)).isoformat()),
                And(LessThan("interval_start", end.isoformat()), GreaterThan("series_end", start.isoformat())),
            ),
        ),
        selected_fields=("series_start", "series_end"),
    ).to_pandas()
    cursor = start
    spans = found.dropna().drop_duplicates().sort_values("series_start")  # rows of schema 1 have no span
    for span_start, span_end in spans.itertuples(index=False):
        if span_start > cursor:
            break
        cursor = max(cursor, span_end)
        if cursor >= end:
            return True
    return cursor >= end


@task(name="fetch a chunk from ENTSO-E", cache_policy=NO_CACHE)
def fetch_chunk(chunk: Chunk, feed: Feed, settings: Settings) -> Fetched | None:
    """One request under the shared rate limit (entsoe_api.fetch: its retry policy too)."""
    client = make_client(settings, load_api_key(settings))
    start, end = chunk.span(feed)
    code = area_named(chunk.area).code
    return fetch(lambda: feed.query(client, code, start, end), settings, f"{feed.title.lower()} of {chunk}")


def run_chunk(chunk: Chunk, feed: Feed, settings: Settings, table: VersionedTable) -> str:
    """Fetch and land one chunk; returns "landed" or "no data"."""
    from .flows import land  # the landing every path shares (raw file, checks, tables)

    fetched = fetch_chunk(chunk, feed, settings)
    start, end = chunk.span(feed)
    frame = trim(fetched.document.frame, start, end) if fetched is not None else None
    if fetched is None or frame is None or frame.empty:
        get_run_logger().warning("ENTSO-E has no %s for %s", feed.title.lower(), chunk)
        return "no data"
    land(open_lake(settings), feed, fetched.document, fetched.raw, frame, table, area_named(chunk.area).code)
    return "landed"


def values_table(settings: Settings, feed: Feed) -> VersionedTable:
    return open_tables(open_catalog(settings), settings.catalog_database, table_names(feed)[0])


@flow(name="backfill", log_prints=True, timeout_seconds=BACKFILL_TIMEOUT_S)
def backfill(
    start: date,
    end: date,
    areas: list[str] | None = None,
    feed: str | None = None,
    chunk_days: int | None = None,
    max_concurrency: int = 4,
    fan_out: bool | None = None,
    chunk_retries: int = 1,
    max_failures_in_a_row: int = MAX_FAILURES_IN_A_ROW,
) -> list[str]:
    """Pull the market days [start, end) of `areas` (default: the project's) and `feed` (default:
    the project's) into the tables; returns each chunk with what became of it.

    Days are the area's local days, as ENTSO-E publishes them. Chunks already in the history
    table are skipped. With more than FAN_OUT_ABOVE chunks to fetch and the backfill-chunk
    deployment on the server (prefect.yaml; locally `python -m <package> serve-backfill`),
    each chunk is its own run, at most `max_concurrency` at a time, a failed one retried
    `chunk_retries` times; `fan_out=True` or False forces the choice. Chunks still missing at
    the end fail the run by name; `max_failures_in_a_row` failures stop it at once.
    """
    began = time.monotonic()
    if max_concurrency < 1 or chunk_retries < 0 or max_failures_in_a_row < 1:
        raise ValueError("max_concurrency and max_failures_in_a_row must be at least 1, chunk_retries at least 0")
    logger = get_run_logger()
    settings = Settings()
    the_feed = feed_named(feed or settings.feed)
    chunks = plan(start, end, areas or [settings.area], the_feed, chunk_days)
    table = values_table(settings, the_feed)
    outcome = Outcome()
    todo = []
    for chunk in chunks:
        if landed_already(table, chunk, the_feed):
            outcome.done[chunk] = "already landed"
        else:
            todo.append(chunk)
    logger.info("%d chunks of %s, %d already landed", len(chunks), the_feed.name, len(chunks) - len(todo))
    worth_it = fan_out if fan_out is not None else len(todo) > FAN_OUT_ABOVE
    deployment_id = _chunk_deployment_id() if worth_it and todo else None
    if fan_out and todo and deployment_id is None:
        raise ValueError(f"fan_out=True needs the deployment {CHUNK_DEPLOYMENT!r} on the Prefect server")
    last_start = began + BACKFILL_TIMEOUT_S - CHUNK_TIMEOUT_S  # a chunk started later could outlive the parent
    breaker = Breaker(max_failures_in_a_row)
    attempts = Attempts(deque(todo), chunk_retries, breaker, outcome)
    if deployment_id is None:
        _run_here(attempts, the_feed, settings, table, last_start)
    else:
        logger.info("Fanning %d chunks out to %s, %d at a time", len(todo), CHUNK_DEPLOYMENT, max_concurrency)
        _fan_out(deployment_id, attempts, the_feed, max_concurrency, last_start)
    minutes = max(time.monotonic() - began, 1.0) / 60
    report = _report(start, end, chunks, outcome, minutes)
    create_markdown_artifact(key="backfill-report", markdown=report, description=f"backfill {start} to {end}")
    if breaker.open:
        raise BackfillStopped(
            f"backfill {start} to {end} stopped: {breaker.in_a_row} chunks failed in a row, the last with: "
            f"{breaker.cause}. No further chunk was started; fix the cause and run it again "
            "(chunks already landed are skipped)"
        )
    missing = sorted([*outcome.failed, *outcome.not_started])
    if missing:
        raise RuntimeError(
            f"backfill {start} to {end}: {len(missing)} of {len(chunks)} chunks missing, run them again: "
            + ", ".join(str(c) for c in missing)
        )
    logger.info("Backfill done: %d chunks", len(chunks))
    return [f"{chunk}: {outcome.done[chunk]}" for chunk in chunks]


def _run_here(attempts: Attempts, feed: Feed, settings: Settings, table: VersionedTable, last_start: float) -> None:
    """The direct path: one chunk after another in this process."""
    logger = get_run_logger()
    while attempts.queue:
        if attempts.breaker.open or time.monotonic() > last_start:
            attempts.stop()
            return
        chunk = attempts.take()
        try:
            status = run_chunk(chunk, feed, settings, table)
        except Exception as exc:
            cause = f"{type(exc).__name__}: {exc}"
            logger.error("Chunk %s failed: %s", chunk, cause)
            attempts.failed(chunk, cause)
        else:
            attempts.succeeded(chunk, status)


def _chunk_deployment_id():
    """The backfill-chunk deployment's id, or None when this server has none (run in-process)."""
    with get_client(sync_client=True) as client:
        try:
            return client.read_deployment_by_name(CHUNK_DEPLOYMENT).id
        except ObjectNotFound:
            return None


def _fan_out(deployment_id, attempts: Attempts, feed: Feed, max_concurrency: int, last_start: float) -> None:
    """Child runs of the chunk deployment; the first alone until one lands, then `max_concurrency`.

    Waiting costs one read_flow_runs call per poll for all children, every POLL_MIN_S doubling
    to POLL_MAX_S while nothing finishes: at most 60 / POLL_MIN_S calls a minute, 2 a minute
    in a long wait (Prefect Cloud's lower plans allow 625 a minute for the account).
    """
    logger = get_run_logger()
    outcome = attempts.outcome
    running: dict = {}  # flow run id -> chunk
    interval = POLL_MIN_S
    landed_one = False
    with get_client(sync_client=True) as client:
        while attempts.queue or running:
            allowed = max_concurrency if landed_one else 1  # slow start: a revoked key fails one run at a time
            while attempts.queue and len(running) < allowed and not attempts.breaker.open:
                if time.monotonic() > last_start:
                    attempts.stop()
                    break
                chunk = attempts.take()
                run = run_deployment(
                    deployment_id,
                    parameters={"start": chunk.start, "end": chunk.end, "area": chunk.area, "feed": feed.name},
                    timeout=0,
                    as_subflow=True,
                )
                if not isinstance(run, FlowRun):  # sync caller: the run itself (async_dispatch)
                    raise TypeError(f"run_deployment gave {type(run).__name__}, not a flow run")
                running[run.id] = chunk
                outcome.started_runs += 1
            if not running:
                break
            time.sleep(interval)
            runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=list(running))))
            outcome.polls += 1
            finished = [(r, r.state) for r in runs if r.state is not None and r.state.is_final()]
            interval = POLL_MIN_S if finished else min(interval * 2, POLL_MAX_S)
            for run, state in finished:
                chunk = running.pop(run.id)
                if state.is_completed():
                    landed_one = True
                    attempts.succeeded(chunk, "done in a chunk run")  # landed, or no data: the run's log says
                else:
                    cause = f"chunk run {run.name} ended {state.name}: {state.message}"
                    logger.warning("Chunk %s: %s", chunk, cause)
                    attempts.failed(chunk, cause)
    attempts.stop()


@flow(name="backfill-chunk", log_prints=True, timeout_seconds=CHUNK_TIMEOUT_S)
def backfill_chunk(start: date, end: date, area: str = "", feed: str = "") -> str:
    """One chunk of a backfill, the market days [start, end) of `area` (default: the project's)
    and `feed` (default: the project's); returns "landed" or "no data"."""
    # `date` is used in the body on purpose: a served run gets this function by value
    # (cloudpickle), with only the globals its body names, and pydantic needs `date` to
    # resolve the parameters' annotations.
    if not (isinstance(start, date) and isinstance(end, date)):
        raise TypeError(f"backfill_chunk takes dates, got {start!r} and {end!r}")
    settings = Settings()
    the_feed = feed_named(feed or settings.feed)
    chunk = Chunk(area_named(area or settings.area).name, start, end)
    return run_chunk(chunk, the_feed, settings, values_table(settings, the_feed))


def _report(start: date, end: date, chunks: list[Chunk], outcome: Outcome, minutes: float) -> str:
    counts = pd.Series(list(outcome.done.values()), dtype="object").value_counts()
    lines = [
        f"# Backfill {start} to {end}",
        "",
        f"- Chunks: {len(chunks)}; " + ", ".join(f"{what}: {n}" for what, n in counts.items()),
    ]
    if outcome.started_runs:
        calls = outcome.started_runs + outcome.polls
        lines.append(
            f"- Chunk runs started: {outcome.started_runs}; polls: {outcome.polls} "
            f"({calls / minutes:.1f} API calls a minute for starting and waiting)"
        )
    missing = sorted([*outcome.failed, *outcome.not_started])
    if missing:
        lines += [f"- Missing ({len(missing)}), run these again:", *[f"  - {c}" for c in missing]]
    return "\n".join(lines)
