"""Documents that failed their data checks: recorded in the lake, skipped by the sweep.

A document that breaks a data check would fail again on every redelivery and every daily
sweep, alerting each time. Its raw bytes are already landed; the quarantine records why it
was refused (`quarantine/feed=<feed>/area=<EIC>/<mRID>_r<revision>.json`), the sweep leaves it
alone, and the run that refused it fails once, so its alert names the document and the rule.
`replay` still processes it; a document that then passes leaves the quarantine.
"""

from __future__ import annotations

import json
import time

from .documents import Document
from .lake import Lake, safe_name

PREFIX = "quarantine"


def _key(feed: str, area: str, mrid: str, revision: int) -> str:
    return f"{PREFIX}/feed={feed}/area={area}/{safe_name(mrid)}_r{revision}.json"


def record(lake: Lake, feed: str, document: Document, raw_key: str, reason: str) -> str:
    body = {"mrid": document.mrid, "revision": document.revision, "raw": raw_key, "reason": reason, "at": time.time()}
    return lake.put(_key(feed, document.area, document.mrid, document.revision), json.dumps(body).encode())


def release(lake: Lake, feed: str, document: Document) -> None:
    """After a replay that passed: the document is no longer quarantined."""
    key = _key(feed, document.area, document.mrid, document.revision)
    if lake.exists(key):
        lake.delete(key)


def quarantined(lake: Lake, feed: str) -> set[tuple[str, str, int]]:
    """(area EIC, mRID as a file name, revision) of every quarantined document of the feed."""
    found = set()
    for key in lake.list(f"{PREFIX}/feed={feed}/"):
        area, name = key.split("/")[-2].removeprefix("area="), key.rsplit("/", 1)[1].removesuffix(".json")
        mrid, _, revision = name.rpartition("_r")
        if revision.isdigit():
            found.add((area, mrid, int(revision)))
    return found
