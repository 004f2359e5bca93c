"""Exactly once per document revision, kept in the lake itself.

ENTSO-E and webhooks deliver at least once. The idempotency key is (feed, mRID, revision):
what ENTSO-E itself uses to identify a document version. Before anything is written a run
claims the key with an atomic create-if-absent (O_EXCL locally, S3's If-None-Match on AWS);
after the newsletter is sent it writes a `sent` marker. A key that is sent, or claimed by a
live run, is skipped; a failed run releases its claim so `replay` can finish the job. The
ledger lives beside the data it protects, so it survives restarts and needs no database.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from .documents import Document
from .lake import Lake, safe_name

CLAIM_TIMEOUT_S = 15 * 60  # a claim older than this belongs to a run that died


@dataclass(frozen=True)
class Decision:
    proceed: bool
    reason: str


def _prefix(feed: str, document: Document) -> str:
    return f"ledger/feed={feed}/area={document.area}/{safe_name(document.mrid)}"


def _sent_key(feed: str, document: Document, revision: int) -> str:
    return f"{_prefix(feed, document)}/r{revision}.sent"


def _claim_key(feed: str, document: Document) -> str:
    return f"{_prefix(feed, document)}/r{document.revision}.claim"


def claim(lake: Lake, feed: str, document: Document, run_id: str, force: bool = False) -> Decision:
    """Claims the document revision for this run, or says why it must be skipped."""
    keys = lake.list(_prefix(feed, document))  # one listing answers both "sent?" and "newer sent?"
    sent = {int(k.rsplit("/r", 1)[1].removesuffix(".sent")) for k in keys if k.endswith(".sent")}
    if document.revision in sent:
        return Decision(False, f"duplicate: {document.mrid} revision {document.revision} was already sent")
    if any(revision > document.revision for revision in sent):
        return Decision(False, f"stale: a newer revision of {document.mrid} was already sent")
    record = json.dumps({"run_id": run_id, "claimed_at": time.time()}).encode()
    key = _claim_key(feed, document)
    if lake.put_if_absent(key, record):
        return Decision(True, "claimed")
    holder = json.loads(lake.get(key))
    if force or time.time() - holder["claimed_at"] > CLAIM_TIMEOUT_S:
        lake.put(key, record)
        return Decision(True, f"took over the claim of run {holder['run_id']}")
    return Decision(
        False, f"in progress: run {holder['run_id']} is processing {document.mrid} revision {document.revision}"
    )


def release(lake: Lake, feed: str, document: Document) -> None:
    """After a failure: let a replay (or a redelivery) process the revision again."""
    lake.delete(_claim_key(feed, document))


def mark_sent(lake: Lake, feed: str, document: Document, run_id: str) -> None:
    record = json.dumps({"run_id": run_id, "sent_at": time.time()}).encode()
    lake.put(_sent_key(feed, document, document.revision), record)
    lake.delete(_claim_key(feed, document))


def sent_revisions(lake: Lake, feed: str) -> dict[tuple[str, str], set[int]]:
    """Every sent revision of the feed, by (area, mRID as a file name): one listing for a sweep."""
    sent: dict[tuple[str, str], set[int]] = {}
    for key in lake.list(f"ledger/feed={feed}/"):
        if key.endswith(".sent"):
            _, area, mrid, name = key.rsplit("/", 3)
            revision = name.removeprefix("r").removesuffix(".sent")
            sent.setdefault((area.removeprefix("area="), mrid), set()).add(int(revision))
    return sent
