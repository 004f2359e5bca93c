"""The pipeline's story: a push message in, the lake and a newsletter out.

process_message: read -> land raw and tidy data -> enrich from the API -> email -> summary.
backfill: a range of days from the API into the tables (backfill.py, imported at the end).
poll_latest: the scheduled fallback: landed messages whose event was lost, then the API.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from . import defaults, ledger, newsletter_budget, quarantine
from .areas import area_for_code
from .checks import DataCheckError, check
from .documents import Document
from .emailing import nothing_sent, send_newsletter
from .entsoe_api import Fetched, fetch, load_api_key, make_client
from .feeds import FEEDS, Feed
from .front_door import INBOX, Refused, split_message
from .intake import accept
from .lake import Lake, document_name, open_lake, partition
from .newsletter import Newsletter, compose
from .settings import Settings
from .tables import (
    VersionedTable,
    Written,
    all_tables,
    maintain,
    open_catalog,
    open_tables,
    read_period,
    rows,
    table_names,
    write_document,
)
from .transforms import chart_bars, select_sequence, series_table, trim, with_reference


@dataclass(frozen=True)
class RunSummary:
    """What one `process_message` run did: the newsletter it sent and the lake files it wrote,
    or, when it did nothing, why (`skipped`)."""

    subject: str | None = None
    recipients: list[str] = field(default_factory=list)
    lake_files: list[str] = field(default_factory=list)
    markdown: str = ""
    skipped: str | None = None
    documents: list[RunSummary] = field(default_factory=list)  # one per document, when a message holds several


Deliver = Callable[[Newsletter], list[str]]  # sends the newsletter; returns the recipients


@task(name="read document", cache_policy=NO_CACHE)
def read_message(message: bytes, feed: Feed, settings: Settings) -> Document:
    return accept(message, feed, settings)


@task(name="land in the lake", cache_policy=NO_CACHE)
def land(
    lake: Lake,
    feed: Feed,
    document: Document,
    raw: bytes,
    frame: pd.DataFrame,
    table: VersionedTable,
    area: str,
    prefix: str = "",
) -> tuple[list[str], Written]:
    """Writes the raw bytes, checks the values, then commits them to the feed's (or enrichment's) table.

    Raw files keep every revision (`<mRID>_r<revision>.xml`) and are written first, so a
    document that fails its data checks stays landed for `replay`, and is quarantined (the
    sweep skips it; quarantine.py). `area`: the EIC code of the project's area. The history
    table keeps every version; the latest table each key's latest published value
    (tables.write_document).
    """
    raw_dir = partition(f"{prefix}raw", feed.name, document.area, document.period_start)
    key = lake.put(f"{raw_dir}/{document_name(document.mrid, document.revision)}.xml", raw)
    logger = get_run_logger()
    try:
        warnings = check(document, frame, feed, area)
    except DataCheckError as refused:
        quarantine.record(lake, feed.name, document, key, str(refused))
        raise
    quarantine.release(lake, feed.name, document)
    for warning in warnings:
        logger.warning("%s revision %s: %s", document.mrid, document.revision, warning)
    written = write_document(table, document, rows(document, frame, feed))
    logger.info(
        "%s: %s", written.table, written.skipped or f"{written.rows} rows committed (attempt {written.attempts})"
    )
    return [key], written


def feed_tables(settings: Settings, feed: Feed) -> tuple[VersionedTable, VersionedTable]:
    """The feed's Iceberg table and its enrichment's, opened once per run (both created on
    first use, so both can be queried)."""
    catalog = open_catalog(settings)
    values, enrichment = (open_tables(catalog, settings.catalog_database, name) for name in table_names(feed))
    return values, enrichment


@task(name="fetch from ENTSO-E", cache_policy=NO_CACHE)
def fetch_from_api(query, settings: Settings, what: str) -> Fetched | None:
    """The shared rate limit and the retry policy (429: wait out the ban) live in entsoe_api.fetch."""
    return fetch(query, settings, what)


@flow(name="process-message", log_prints=True, timeout_seconds=30 * 60)
def process_message(event_msg: str, replay: bool = False, only_if_changed: bool = False) -> RunSummary:
    """Handle one ENTSO-E push message: its values land in the tables, and its newsletter goes
    out exactly once per document revision.

    `event_msg` is what the trigger passes, the front door's small event (JSON with the lake
    `key` of the landed message), or for manual runs a lake key, a bare market document or a
    whole push envelope (each of its documents is processed). `replay` takes the revision over
    from any holder, even a run that stopped while sending; a failed run releases its own claim
    unless the newsletter may be out (ledger.py). `only_if_changed` (the daily poll): no
    newsletter unless the document changed a value in the tables, because the API answers with
    a fresh mRID what a push may already have announced.

    The values land before the ledger is asked, so a redelivery with changed content under an
    already-sent revision still reaches the tables (landing twice adds nothing).
    """
    logger = get_run_logger()
    settings = Settings()
    feed = FEEDS[settings.feed]
    lake = open_lake(settings)
    raw = message_bytes(event_msg, lake)
    parts = _documents_in(raw)
    if len(parts) > 1:
        logger.info("The message holds %d documents: processing each", len(parts))
        summaries = [process_message(part, replay=replay, only_if_changed=only_if_changed) for part in parts]
        return replace(summaries[0], documents=summaries)
    document = read_message(raw, feed, settings)
    area = area_for_code(document.area)
    logger.info(
        "Read %s %s rev %s for %s: %d values",
        document.document_type,
        document.mrid,
        document.revision,
        area.name,
        len(document.frame),
    )
    tables = feed_tables(settings, feed)
    keys, written = land(lake, feed, document, raw, document.frame, tables[0], _configured_area(settings).code)
    if only_if_changed and not written.changed:
        reason = f"{document.mrid} changed no value in {written.table}: its period was announced before"
        logger.info("Nothing to send: %s", reason)
        return RunSummary(skipped=reason)
    run_id = str(flow_run.get_id() or "local")
    decision = ledger.claim(lake, feed.name, document, run_id, force=replay)
    if decision.unresolved:
        raise ledger.DeliveryUnresolved(decision.reason)  # fails the run, so the failure alert names it
    if decision.claim is None:
        logger.info("Nothing to do: %s", decision.reason)
        return RunSummary(skipped=decision.reason)
    claim = decision.claim

    def deliver(newsletter: Newsletter) -> list[str]:
        # over the daily cap: NewsletterCapReached, nothing mailed, the claim released (newsletter_budget.py)
        newsletter_budget.take_slot(lake, ledger.delivery_id(feed.name, document), settings.max_newsletters_per_day)
        ledger.begin_sending(lake, claim)  # fenced: raises LostClaim if another run holds the revision
        return send_newsletter(newsletter, settings, ledger.delivery_id(feed.name, document))

    try:
        with ledger.renewing(lake, claim):
            summary = _process(feed, area, document, keys, tables, lake, settings, deliver)
    except ledger.LostClaim as lost:
        logger.info("Nothing sent: %s", lost)
        return RunSummary(skipped=str(lost))
    except BaseException as error:
        ledger.release(lake, claim, nothing_sent=nothing_sent(error))  # a possible send stays `sending`
        raise
    if not ledger.mark_sent(lake, claim):
        logger.warning("Sent, but a replay took %s revision %s over meanwhile", document.mrid, document.revision)
    create_markdown_artifact(
        key=f"{feed.name.replace('_', '-')}-newsletter", markdown=summary.markdown, description=summary.subject
    )
    return summary


def message_bytes(event_msg: str, lake: Lake) -> bytes:
    """The raw message an `event_msg` stands for: the event's lake key, a lake key, or the XML itself."""
    text = event_msg.strip()
    if text.startswith("{"):
        try:
            key = json.loads(text)["key"]
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"event_msg is JSON but not a front-door event with a lake key: {text[:200]!r}") from None
        return lake.get(key)
    if text and not text.startswith("<") and len(text) < 1024 and lake.exists(text):
        return lake.get(text)
    return event_msg.encode("utf-8")  # the message itself: read_document names what is wrong


def _documents_in(raw: bytes) -> list[str]:
    """The documents of a message holding more than one; otherwise [] (read it as it is)."""
    if raw.count(b"_MarketDocument") <= 2:  # one document: its start and end tag
        return []
    try:
        parts = split_message(raw)
    except Refused:
        return []  # read_document names the problem
    return [p.data.decode("utf-8") for p in parts] if len(parts) > 1 else []


def _process(
    feed: Feed,
    area,
    document: Document,
    keys: list[str],
    tables: tuple[VersionedTable, VersionedTable],
    lake: Lake,
    settings: Settings,
    deliver: Deliver,
) -> RunSummary:
    """The enrichment, then the email; the document's own values have landed already (`keys`).

    The newsletter is made from the tables, not the message: what readers get is what a query sees.
    """
    values_table, enrichment_table = tables
    project_area = _configured_area(settings).code

    client = make_client(settings, load_api_key(settings))
    start, end = feed.enrichment.period(document)
    what = f"{feed.enrichment.title.lower()} ({start:%Y-%m-%d} to {end:%Y-%m-%d})"
    reference = fetch_from_api(lambda: feed.enrichment.query(client, area.code, document), settings, what)
    reference_frame = None
    if reference is not None:
        trimmed = trim(reference.document.frame, start, end)
        enrichment_keys, _ = land(
            lake, feed, reference.document, reference.raw, trimmed, enrichment_table, project_area, prefix="enrichment/"
        )
        keys = keys + enrichment_keys
        reference_frame = read_period(enrichment_table, document.area, start, end)

    values = read_period(values_table, document.area, document.period_start, document.period_end)
    newsletter = newsletter_for(feed, area, document, reference_frame, values, settings.price_sequence)
    recipients = deliver(newsletter)
    return _summary(feed, document, newsletter, recipients, [lake.describe(k) for k in keys], reference is not None)


def newsletter_for(
    feed: Feed,
    area,
    document: Document,
    reference: pd.DataFrame | None,
    values: pd.DataFrame | None = None,
    sequence: str = "1",
) -> Newsletter:
    """The newsletter for a document's values (by default its own frame) and its (trimmed) enrichment.

    Of a document with several sequences (DE-LU/AT prices) it shows one, SDAC unless set.
    """
    frame = select_sequence(document.frame if values is None else values, sequence)
    if reference is not None:
        reference = select_sequence(reference, sequence)
    table = with_reference(series_table(frame, feed), reference, feed)
    return compose(feed, area, document, table, chart_bars(frame, feed), defaults.PROJECT_NAME)


def _summary(
    feed: Feed, document: Document, newsletter: Newsletter, recipients: list[str], lake_files: list[str], enriched: bool
) -> RunSummary:
    markdown = "\n".join(
        [
            f"# {newsletter.subject}",
            "",
            f"- Document: `{document.mrid}` revision {document.revision} ({document.document_type}), "
            f"{document.period_start:%Y-%m-%d %H:%M} to {document.period_end:%Y-%m-%d %H:%M} UTC",
            f"- Values: {len(document.frame)}",
            f"- Enrichment ({feed.enrichment.title}): {'yes' if enriched else 'not published'}",
            f"- Emailed to: {', '.join(recipients)}",
            "- Lake files:",
            *[f"  - `{f}`" for f in lake_files],
        ]
    )
    return RunSummary(subject=newsletter.subject, recipients=recipients, lake_files=lake_files, markdown=markdown)


@flow(name="maintain-tables", log_prints=True, timeout_seconds=60 * 60)
def maintain_tables(keep_days: float | None = None) -> list[str]:
    """Scheduled upkeep: compact each table's small files, then forget snapshots older than `keep_days`."""
    settings = Settings()
    keep = timedelta(days=settings.snapshot_retention_days if keep_days is None else keep_days)
    catalog = open_catalog(settings)
    report = []
    for table in all_tables(catalog, settings.catalog_database):
        done = maintain(table, keep)
        report.append(
            f"{done.table}: files per partition {_spread(done.files_before)} -> {_spread(done.files_after)}, "
            f"{done.snapshots_expired} snapshots expired"
        )
        get_run_logger().info(report[-1])
    return report


def _spread(counts: dict[str, int]) -> str:
    if not counts:
        return "none"
    return f"max {max(counts.values())}, mean {sum(counts.values()) / len(counts):.1f} over {len(counts)} partitions"


@flow(name="poll-latest", log_prints=True, timeout_seconds=30 * 60)
def poll_latest(hours: int = 24) -> RunSummary | None:
    """Scheduled fallback: first the landed messages whose event never arrived, then the API.

    The sweep processes every inbox message the ledger has not seen sent; the API poll
    fetches the last `hours` and lands it, and mails it only if it changed a value in the
    tables: the API answers with its own mRID what a push may have announced already.
    """
    settings = Settings()
    feed = FEEDS[settings.feed]
    sweep_inbox(open_lake(settings), feed)
    area = _configured_area(settings)
    client = make_client(settings, load_api_key(settings))
    end = pd.Timestamp(datetime.now(UTC)).floor("h")
    start = end - pd.Timedelta(hours=hours)
    fetched = fetch_from_api(
        lambda: feed.query(client, area.code, start, end), settings, f"latest {feed.title.lower()}"
    )
    if fetched is None:
        get_run_logger().warning("ENTSO-E has published nothing for %s since %s", area.name, start)
        return None
    return process_message(fetched.raw.decode("utf-8"), only_if_changed=True)


def sweep_inbox(lake: Lake, feed: Feed) -> list[str]:
    """Processes the landed messages of this feed that the ledger has not seen sent; returns their keys.

    A message that fails is logged and left for the next sweep; the others still run.
    """
    logger = get_run_logger()
    sent = ledger.sent_revisions(lake, feed.name)
    held = quarantine.quarantined(lake, feed.name)
    pending = []
    for key in lake.list(f"{INBOX}/type={feed.document_type}/"):
        area, name = key.split("/")[-2].removeprefix("area="), key.rsplit("/", 1)[1]
        mrid, revision = _inbox_name(name)
        if mrid is None or any(r >= revision for r in sent.get((area, mrid), ())):
            continue
        if (area, mrid, revision) in held:
            logger.warning("Landed message %s is quarantined (it failed its data checks): replay it once fixed", key)
            continue
        pending.append(key)
    for key in pending:
        try:
            process_message(json.dumps({"key": key}))
        except Exception as exc:
            logger.error("Landed message %s failed again: %s", key, exc)
    logger.info("Swept the inbox: %d landed message(s) not yet sent", len(pending))
    return pending


def _inbox_name(name: str) -> tuple[str | None, int]:
    """`<mRID>_r<revision>_<digest>.xml` (front_door.Part.key) -> (mRID as in the ledger, revision)."""
    stem, _, _ = name.removesuffix(".xml").rpartition("_")
    mrid, _, revision = stem.rpartition("_r")
    return (mrid, int(revision)) if mrid and revision.isdigit() else (None, 0)


def _configured_area(settings: Settings):
    from entsoe.mappings import Area

    try:
        return Area[settings.area]
    except KeyError:
        raise ValueError(f"setting area={settings.area!r} is not an entsoe-py Area name (e.g. DE_LU, FR, FI)") from None


# The backfill lives in its own module; its flows stay importable from here, as before.
from .backfill import backfill as backfill  # noqa: E402
from .backfill import backfill_chunk as backfill_chunk  # noqa: E402
