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
from prefect.events import emit_event
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
    inbox_key = landed_key(event_msg, lake)
    raw = lake.get(inbox_key) if inbox_key else event_msg.encode("utf-8")  # read_document names what is wrong
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
    record = None if replay else quarantine.held(lake, feed.name, document)
    if record and inbox_key and record["raw"] == inbox_key:  # the same bytes again: alerted once already
        said = f"{document.mrid} revision {document.revision} is quarantined; `replay {inbox_key}` processes it"
        logger.warning("Not processed again: %s", said)
        _mark_swept(lake, inbox_key, "quarantined")
        return RunSummary(skipped=said)
    attempt = quarantine.begin_attempt(lake, feed.name, document)
    failed, died = quarantine.attempts_that_went_wrong(attempt)
    if failed + died >= quarantine.MAX_ATTEMPTS and not replay:  # earlier runs died: nothing recorded why
        last = attempt["errors"][-1] if attempt["errors"] else "each run stopped before it could say why"
        reason = f"{failed + died} attempts failed (last: {last})"
        raise MessageQuarantined(_quarantine(lake, feed, document, inbox_key, reason))
    try:
        summary, settled = _deliver_once(lake, feed, area, document, raw, settings, replay, only_if_changed)
    except Exception as error:
        failed = quarantine.attempt_failed(lake, feed.name, document, f"{type(error).__name__}: {error}")
        if isinstance(error, DataCheckError) or failed["attempts"] >= quarantine.MAX_ATTEMPTS:
            _quarantine(lake, feed, document, inbox_key, f"attempt {failed['attempts']} failed: {error}")
        raise
    if settled:
        quarantine.attempts_done(lake, feed.name, document)
        _mark_swept(lake, inbox_key, summary.skipped or "sent")
    else:  # another run holds it: that run settles it, and the failures so far still count
        quarantine.attempt_stepped_aside(lake, feed.name, document)
    return summary


class MessageQuarantined(RuntimeError):
    """The message failed too often: it waits for a person (its alert says why), then `replay`."""


def _quarantine(lake: Lake, feed: Feed, document: Document, key: str | None, reason: str) -> str:
    """Records the quarantine, tells the sweeps to leave the message, and raises the alert's event."""
    said = (
        f"{document.mrid} revision {document.revision} is quarantined: {reason}. The sweeps leave it alone; "
        f"fix the cause, then `python -m {__package__} replay {key or '<its inbox key>'}`"
    )
    quarantine.record(lake, feed.name, document, key or "", said)
    _mark_swept(lake, key, f"quarantined: {reason}")
    emit_event(
        event=f"{defaults.PROJECT_SLUG}.{quarantine.QUARANTINED}",
        resource={
            "prefect.resource.id": f"{defaults.PROJECT_SLUG}.message.{document_name(document.mrid, document.revision)}",
            "prefect.resource.name": key or document.mrid,
        },
        payload={"mrid": document.mrid, "revision": document.revision, "key": key, "reason": said},
    )
    get_run_logger().error(said)
    return said


def _mark_swept(lake: Lake, key: str | None, outcome: str) -> None:
    """Beside a landed message, says that nothing is left to do for it, so the sweeps list it once."""
    if key and key.startswith(f"{INBOX}/") and key.endswith(".xml"):
        lake.put(key.removesuffix(".xml") + DONE, outcome.encode("utf-8"))


def _deliver_once(
    lake: Lake,
    feed: Feed,
    area,
    document: Document,
    raw: bytes,
    settings: Settings,
    replay: bool,
    only_if_changed: bool,
) -> tuple[RunSummary, bool]:
    """Land, then claim, send and mark under the ledger; True with the summary when the revision
    is settled (sent now or before), False when another run holds it (it settles it)."""
    logger = get_run_logger()
    tables = feed_tables(settings, feed)
    keys, written = land(lake, feed, document, raw, document.frame, tables[0], _configured_area(settings).code)
    if only_if_changed and not written.changed:
        reason = f"{document.mrid} changed no value in {written.table}: its period was announced before"
        logger.info("Nothing to send: %s", reason)
        return RunSummary(skipped=reason), True
    run_id = str(flow_run.get_id() or "local")
    decision = ledger.claim(lake, feed.name, document, run_id, force=replay)
    if decision.unresolved:
        raise ledger.DeliveryUnresolved(decision.reason)  # fails the run, so the failure alert names it
    if decision.claim is None:
        logger.info("Nothing to do: %s", decision.reason)
        return RunSummary(skipped=decision.reason), not decision.reason.startswith("in progress")
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
        return RunSummary(skipped=str(lost)), False
    except BaseException as error:
        ledger.release(lake, claim, nothing_sent=nothing_sent(error))  # a possible send stays `sending`
        raise
    if not ledger.mark_sent(lake, claim):
        logger.warning("Sent, but a replay took %s revision %s over meanwhile", document.mrid, document.revision)
    create_markdown_artifact(
        key=f"{feed.name.replace('_', '-')}-newsletter", markdown=summary.markdown, description=summary.subject
    )
    return summary, True


def landed_key(event_msg: str, lake: Lake) -> str | None:
    """The lake key an `event_msg` names (the front door's event, or a key), or None: it is the XML itself."""
    text = event_msg.strip()
    if text.startswith("{"):
        try:
            return str(json.loads(text)["key"])
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"event_msg is JSON but not a front-door event with a lake key: {text[:200]!r}") from None
    if text and not text.startswith("<") and len(text) < 1024 and lake.exists(text):
        return text
    return None


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

    The sweep processes every inbox message with nothing recorded beside it; the API poll
    fetches the last `hours` and lands it, and mails it only if it changed a value in the
    tables: the API answers with its own mRID what a push may have announced already. A
    message that failed fails this run at the end, by name, after the API poll has run.
    """
    settings = Settings()
    feed = FEEDS[settings.feed]
    swept = sweep_inbox(open_lake(settings), feed)
    area = _configured_area(settings)
    client = make_client(settings, load_api_key(settings))
    end = pd.Timestamp(datetime.now(UTC)).floor("h")
    start = end - pd.Timedelta(hours=hours)
    fetched = fetch_from_api(
        lambda: feed.query(client, area.code, start, end), settings, f"latest {feed.title.lower()}"
    )
    summary = None
    if fetched is None:
        get_run_logger().warning("ENTSO-E has published nothing for %s since %s", area.name, start)
    else:
        summary = process_message(fetched.raw.decode("utf-8"), only_if_changed=True)
    swept.raise_failures()
    return summary


SWEEP_EVERY_S = 600  # prefect.yaml's sweep-inbox interval (a test keeps them equal)
SWEEP_MIN_AGE_S = 300  # younger messages are the push path's: their run may not have started yet
BEHIND_AFTER_S = 1800  # an unprocessed message older than this raises the inbox-behind alert
INBOX_BEHIND = "inbox.behind"  # the event's name after the project slug (automations.yaml)
DONE = ".done"  # beside a landed `<name>.xml`: `<name>.done` says nothing is left to do for it


@flow(name="sweep-inbox", log_prints=True, timeout_seconds=15 * 60)
def sweep_inbox_flow(min_age_s: float = SWEEP_MIN_AGE_S, retry_after_s: float = SWEEP_EVERY_S) -> list[str]:
    """Every few minutes: the landed messages whose event was lost, processed within one interval.

    One listing when there is nothing to do. A message that fails is tried again after a
    doubling wait (`retry_after_s`, then twice that...) until it is quarantined; the run fails
    at the end naming each failed message, after processing the others.
    """
    settings = Settings()
    swept = sweep_inbox(open_lake(settings), FEEDS[settings.feed], min_age_s, retry_after_s)
    swept.raise_failures()
    return swept.processed


@dataclass
class Swept:
    """What one sweep did: the messages it processed, those that failed (key -> reason), and the
    age of the oldest message still waiting (0 when none)."""

    processed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    oldest_waiting_s: float = 0.0
    oldest_waiting: str | None = None

    def still_waiting(self, key: str, age_s: float) -> None:
        if age_s > self.oldest_waiting_s:
            self.oldest_waiting_s, self.oldest_waiting = age_s, key

    def raise_failures(self) -> None:
        if self.failed:
            raise SweepFailed(
                f"{len(self.failed)} landed message(s) failed, the others were processed: "
                + "; ".join(f"{key}: {reason}" for key, reason in self.failed.items())
            )


class SweepFailed(RuntimeError):
    """Landed messages failed inside a sweep: their keys and reasons, so the run's alert names them."""


def sweep_inbox(
    lake: Lake, feed: Feed, min_age_s: float = 0.0, retry_after_s: float = 0.0, now: float | None = None
) -> Swept:
    """Processes the landed messages of this feed with nothing recorded beside them (DONE).

    One listing finds them: the inbox, with each key's time. Only when some are older than
    `min_age_s` does the sweep read the ledger and the quarantine (messages processed before
    the DONE markers existed, or by a run that died after sending). A message that failed
    waits `retry_after_s * 2 ** (attempts - 1)` before the next try. The processing runs
    under the ledger, so a push run at the same moment and the sweep send one newsletter.
    """
    logger = get_run_logger()
    now = time.time() if now is None else now
    listed = lake.list_modified(f"{INBOX}/type={feed.document_type}/")
    waiting = {
        key: now - at
        for key, at in listed.items()
        if key.endswith(".xml") and key.removesuffix(".xml") + DONE not in listed and now - at >= min_age_s
    }
    swept = Swept()
    if not waiting:
        return swept
    sent = ledger.sent_revisions(lake, feed.name)
    held = quarantine.quarantined(lake, feed.name)
    failing = quarantine.failing(lake, feed.name)
    for key, age in sorted(waiting.items(), key=lambda item: -item[1]):
        area, name = key.split("/")[-2].removeprefix("area="), key.rsplit("/", 1)[1]
        mrid, revision = _inbox_name(name)
        if mrid is None:
            continue
        if any(r >= revision for r in sent.get((area, mrid), ())):
            _mark_swept(lake, key, f"revision {max(sent[(area, mrid)])} was sent")
            continue
        if (area, mrid, revision) in held:
            _mark_swept(lake, key, "quarantined")
            continue
        tried = failing.get((area, mrid, revision))
        if tried and now - tried.get("last", 0) < retry_after_s * 2 ** (tried["attempts"] - 1):
            swept.still_waiting(key, age)
            continue
        swept.processed.append(key)
        try:
            process_message(json.dumps({"key": key}))
        except Exception as exc:
            logger.error("Landed message %s failed: %s", key, exc)
            swept.failed[key] = f"{type(exc).__name__}: {exc}"
            swept.still_waiting(key, age)
    logger.info("Swept the inbox: %d landed message(s) processed, %d failed", len(swept.processed), len(swept.failed))
    if swept.oldest_waiting_s > BEHIND_AFTER_S:
        oldest = swept.oldest_waiting or ""
        emit_event(
            event=f"{defaults.PROJECT_SLUG}.{INBOX_BEHIND}",
            resource={"prefect.resource.id": f"{defaults.PROJECT_SLUG}.inbox", "prefect.resource.name": oldest},
            payload={"oldest_key": oldest, "oldest_age_s": round(swept.oldest_waiting_s), "failed": len(swept.failed)},
        )
    return swept


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
