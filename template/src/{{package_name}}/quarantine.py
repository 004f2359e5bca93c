"""Poison messages: recorded in the lake, skipped by the sweeps, named in one alert.

A message that fails every time (a data check it breaks, a bug it triggers, a run it kills)
would fail again on every redelivery and every sweep, alerting each time. Its raw bytes are
already landed. Each attempt at a document is counted before it starts
(`attempts/feed=<feed>/area=<EIC>/<mRID>_r<revision>.json`, a compare-and-swap counter, so a
run killed mid-way counts too); the count is dropped when a run settles the document (sent,
or nothing to send), not when it steps aside for another run at work on it. A document that
breaks a data check, or whose attempts reach MAX_ATTEMPTS, is quarantined: the
record (`quarantine/feed=<feed>/area=<EIC>/<mRID>_r<revision>.json`) says why, the sweeps
leave it alone, and the run that quarantines it emits QUARANTINED (automations.yaml mails
the document and the reason) and fails. The same landed message delivered again is skipped
without a second alert (flows.process_message); `replay` still processes it, and a document
that then passes leaves the quarantine.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from .documents import Document
from .lake import Lake, safe_name

PREFIX = "quarantine"
ATTEMPTS = "attempts"
MAX_ATTEMPTS = 4  # failed attempts (push, redeliveries, sweeps) before a message is quarantined
IN_FLIGHT_S = 30 * 60  # the push flow's timeout: an attempt older than this that never ended died
QUARANTINED = "message.quarantined"  # the event's name after the project slug (automations.yaml)


def _key(feed: str, area: str, mrid: str, revision: int, prefix: str = PREFIX) -> str:
    return f"{prefix}/feed={feed}/area={area}/{safe_name(mrid)}_r{revision}.json"


def begin_attempt(lake: Lake, feed: str, document: Document, now: float | None = None) -> dict:
    """Counts one more attempt at the document before it starts; returns the record (`attempts`,
    `errors`: the reasons earlier attempts failed, `starts`: when the attempts that have not
    ended began, `last`: when the latest one started or failed)."""
    started = time.time() if now is None else now
    return _change(
        lake,
        _attempts_key(feed, document),
        lambda record: {**record, "attempts": record["attempts"] + 1, "starts": [*record.get("starts", []), started]},
    )


def attempts_that_went_wrong(record: dict, now: float | None = None) -> tuple[int, int]:
    """(failed, died) among the attempts before the latest start: a start without an end older
    than IN_FLIGHT_S died; younger ones may be running now (the same message delivered several
    times at once), and are not counted against the message."""
    now = time.time() if now is None else now
    earlier = record.get("starts", [])[:-1]
    return len(record["errors"]), sum(1 for started in earlier if now - started > IN_FLIGHT_S)


def attempt_failed(lake: Lake, feed: str, document: Document, reason: str) -> dict:
    """Adds the failure's reason to the attempts record; returns the record."""
    return _change(
        lake,
        _attempts_key(feed, document),
        lambda record: {
            **record,
            "errors": [*record["errors"], reason][-MAX_ATTEMPTS:],
            "starts": record.get("starts", [])[1:],  # one attempt fewer without an end
        },
    )


def _attempts_key(feed: str, document: Document) -> str:
    return _key(feed, document.area, document.mrid, document.revision, ATTEMPTS)


def _change(lake: Lake, key: str, change: Callable[[dict], dict], create: bool = True) -> dict:
    """One compare-and-swap on an attempts record (S3 conditional writes, as the ledger's);
    without `create`, a record that is gone stays gone (an empty dict is returned)."""
    while True:
        found = lake.read(key)
        if not found and not create:
            return {}
        before = json.loads(found[0]) if found else {"attempts": 0, "errors": []}
        record = {**change(before), "last": time.time()}
        data = json.dumps(record).encode()
        if lake.put_if_match(key, data, found[1]) if found else lake.put_if_absent(key, data):
            return record
        # Another run changed the record between our read and our write: apply ours on top of theirs.


def attempt_stepped_aside(lake: Lake, feed: str, document: Document) -> dict:
    """This attempt found another run at work on the document: it ends without failing, and the
    failures counted so far stay (only a run that settles the document starts the count again)."""
    return _change(
        lake,
        _attempts_key(feed, document),
        lambda record: {**record, "starts": record.get("starts", [])[1:]},
        create=False,  # the holder settled it and dropped the record meanwhile: nothing to keep
    )


def attempts_done(lake: Lake, feed: str, document: Document) -> None:
    """A run ended without failing (sent, or nothing to send): the count starts again."""
    lake.delete(_attempts_key(feed, document))


def failing(lake: Lake, feed: str) -> dict[tuple[str, str, int], dict]:
    """The attempts records of the feed by (area EIC, mRID as a file name, revision): one listing."""
    found = {}
    for key in lake.list(f"{ATTEMPTS}/feed={feed}/"):
        area, name = key.split("/")[-2].removeprefix("area="), key.rsplit("/", 1)[1].removesuffix(".json")
        mrid, _, revision = name.rpartition("_r")
        data = lake.read(key)
        if revision.isdigit() and data is not None:
            found[(area, mrid, int(revision))] = json.loads(data[0])
    return found


def record(lake: Lake, feed: str, document: Document, raw_key: str, reason: str) -> str:
    body = {"mrid": document.mrid, "revision": document.revision, "raw": raw_key, "reason": reason, "at": time.time()}
    return lake.put(_key(feed, document.area, document.mrid, document.revision), json.dumps(body).encode())


def held(lake: Lake, feed: str, document: Document) -> dict | None:
    """The document's quarantine record (`raw`: the landed message it was made for), if any."""
    found = lake.read(_key(feed, document.area, document.mrid, document.revision))
    return json.loads(found[0]) if found else None


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
