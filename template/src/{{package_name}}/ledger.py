"""Exactly one newsletter per document revision: a delivery state machine kept in the lake.

ENTSO-E and webhooks deliver at least once, and runs race and die. The idempotency key is
(feed, area, mRID, revision), ENTSO-E's own name for a document version. One lake key per
document, `ledger/feed=<feed>/area=<area>/<mRID>/state.json`, holds its delivery state, and
every move is a compare-and-swap on the version the mover read (S3: `If-None-Match: *` to
create, `If-Match: <ETag>` to replace; locally the same under a lock, see lake.py):

    none | released | sent r' --claim r--> claimed --begin_sending--> sending --mark_sent--> sent
                                  | release                 | release, only if the server refused
                                  v                         v
                               released                  released

- claim skips a revision that was sent (duplicate), one older than a revision sent or in
  flight (stale), and one whose holder's lease is alive (in progress). It takes over a claim
  whose lease ran out (the run died before sending) and supersedes a claim of an older
  revision, whose run is then fenced out before it sends.
- Each claim gets a new fencing token; renew, begin_sending, mark_sent and release succeed
  only for the token that holds the state, so a slow run that was taken over changes nothing.
- The lease is short and the live run renews it (`renewing`): a crash before sending is
  redelivered within minutes, and a long run (API bans) keeps its claim.
- `sending` is never released automatically, since that run may have sent the mail. Later
  claims stop there (`Decision.unresolved`: the run fails, so an alert names the document);
  only `replay` (force) sends again, with the same Message-ID (`delivery_id`), so a mail system
  or a reader can tell it is the same message.
- `r<revision>.sent` beside the state is a write-once index of what was sent, so a sweep lists
  instead of reading every state. The state is the truth; the index may lag it, never lead it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .documents import Document
from .lake import Lake, safe_name

LEASE_S = 120.0  # a claim not renewed for this long belongs to a run that died
RENEW_EVERY_S = LEASE_S / 4
clock = time.time  # wall clock shared by all runs' leases; tests move it


class DeliveryUnresolved(RuntimeError):
    """A run died while sending: the mail may be out. A person checks, then replays if not."""


class LostClaim(RuntimeError):
    """Another run took the claim over (a newer revision, an expired lease, a replay)."""


@dataclass(frozen=True)
class Claim:
    """What a run holds while it processes a revision: the state's key and its fencing token."""

    key: str
    mrid: str
    revision: int
    token: int
    owner: str


@dataclass(frozen=True)
class Decision:
    reason: str
    claim: Claim | None = None  # the run proceeds holding this, or skips
    unresolved: bool = False  # a run died while sending: nothing automatic may send it again

    @property
    def proceed(self) -> bool:
        return self.claim is not None


def _prefix(feed: str, document: Document) -> str:
    return f"ledger/feed={feed}/area={document.area}/{safe_name(document.mrid)}"


def delivery_id(feed: str, document: Document) -> str:
    """The delivery key as one string: the same for every attempt at one revision's newsletter."""
    return f"{feed}/{document.area}/{document.mrid}/r{document.revision}"


def claim(lake: Lake, feed: str, document: Document, run_id: str, force: bool = False) -> Decision:
    """Claims the revision for this run in one compare-and-swap, or says why it must be skipped.

    `force` (replay) takes the revision from any holder, even one that died while sending.
    """
    key = f"{_prefix(feed, document)}/state.json"
    while True:
        found = lake.read(key)
        state, etag = (json.loads(found[0]), found[1]) if found else (_new_state(lake, feed, document), None)
        now = clock()
        refusal = _refusal(state, document, force, now)
        if refusal:
            return refusal
        token = state["token"] + 1
        record = {
            "version": state["version"] + 1,
            "token": token,
            "sent": state["sent"],
            "state": "claimed",
            "revision": document.revision,
            "owner": run_id,
            "since": now,
            "lease_until": now + LEASE_S,
        }
        if _write(lake, key, record, etag):
            reason = "claimed"
            if state["state"] in ("claimed", "sending"):
                reason = f"took over from run {state['owner']} ({state['state']} r{state['revision']})"
            return Decision(reason, Claim(key, document.mrid, document.revision, token, run_id))
        # Another run moved the state between our read and our write: decide again on what it wrote.


def _new_state(lake: Lake, feed: str, document: Document) -> dict:
    """The state of a document never claimed; revisions a ledger without states marked sent still count."""
    keys = lake.list(_prefix(feed, document) + "/")
    sent = [int(k.rsplit("/r", 1)[1].removesuffix(".sent")) for k in keys if k.endswith(".sent")]
    return {"version": 0, "token": 0, "sent": max(sent, default=None), "state": "new", "revision": None}


def _refusal(state: dict, document: Document, force: bool, now: float) -> Decision | None:
    mrid, revision, sent = document.mrid, document.revision, state["sent"]
    if sent is not None and revision <= sent:
        if revision == sent:
            return Decision(f"duplicate: {mrid} revision {revision} was already sent")
        return Decision(f"stale: revision {sent} of {mrid} was already sent")
    if state["state"] not in ("claimed", "sending"):
        return None
    held, owner, sending = state["revision"], state["owner"], state["state"] == "sending"
    if held > revision:
        return Decision(f"stale: run {owner} holds the newer revision {held} of {mrid}")
    alive = state["lease_until"] > now
    if held < revision and not (sending and alive):
        return None  # supersede an older revision's claim, or its send if that run is gone
    if force:
        return None
    if held < revision:  # never overtake a live send of an older revision: it would arrive last
        return Decision(f"in progress: run {owner} is sending revision {held} of {mrid}; {revision} waits")
    if alive:
        return Decision(f"in progress: run {owner} is {state['state']} {mrid} revision {revision}")
    if not sending:
        return None  # the holder died before sending: take over
    return Decision(
        f"unresolved: run {owner} stopped while sending {mrid} revision {revision}; the newsletter may be out. "
        "Check the mailbox for it, then `replay` the message to send it (again, under the same Message-ID).",
        unresolved=True,
    )


def _write(lake: Lake, key: str, record: dict, etag: str | None) -> bool:
    data = json.dumps(record, sort_keys=True).encode()
    return lake.put_if_absent(key, data) if etag is None else lake.put_if_match(key, data, etag)


def _move(lake: Lake, claim: Claim, allowed: tuple[str, ...], **change) -> bool:
    """One owner's transition: only from an `allowed` state still holding the claim's token."""
    while True:
        found = lake.read(claim.key)
        if found is None:
            return False
        state = json.loads(found[0])
        if state["token"] != claim.token or state["state"] not in allowed:
            return False
        if _write(lake, claim.key, {**state, **change, "version": state["version"] + 1}, found[1]):
            return True
        # Our own heartbeat may have renewed in between: read again and re-check the token.


def renew(lake: Lake, claim: Claim) -> bool:
    return _move(lake, claim, ("claimed", "sending"), lease_until=clock() + LEASE_S)


def begin_sending(lake: Lake, claim: Claim) -> None:
    """Records `sending` before SMTP: from here on nothing automatic sends this revision again."""
    if not _move(lake, claim, ("claimed",), state="sending", lease_until=clock() + LEASE_S):
        raise LostClaim(f"run {claim.owner} no longer holds {claim.mrid} revision {claim.revision}: not sending")


def mark_sent(lake: Lake, claim: Claim) -> bool:
    """`sending` -> `sent`; False if a replay took the revision over meanwhile (it sends, and marks)."""
    if not _move(lake, claim, ("sending",), state="sent", sent=claim.revision):
        return False
    lake.put_if_absent(claim.key.removesuffix("state.json") + f"r{claim.revision}.sent", b"")
    return True


def release(lake: Lake, claim: Claim, nothing_sent: bool = False) -> bool:
    """After a failure, lets a redelivery or a replay process the revision again.

    A claim in `sending` is released only when the mail server refused the message
    (`nothing_sent`); otherwise it stays for a person to resolve.
    """
    allowed = ("claimed", "sending") if nothing_sent else ("claimed",)
    return _move(lake, claim, allowed, state="released")


@contextmanager
def renewing(lake: Lake, claim: Claim) -> Iterator[None]:
    """Renews the claim's lease while the block runs, so it expires only when the run is gone."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(RENEW_EVERY_S):
            try:
                if not renew(lake, claim):
                    return  # taken over: the fence stops this run before it sends
            except Exception:  # the lake hiccupped: try again next beat (the lease has slack)
                continue

    heart = threading.Thread(target=beat, name=f"lease {claim.key}", daemon=True)
    heart.start()
    try:
        yield
    finally:
        stop.set()
        heart.join()


def sent_revisions(lake: Lake, feed: str) -> dict[tuple[str, str], set[int]]:
    """Every sent revision of the feed, by (area, mRID as a file name): one listing for a sweep."""
    sent: dict[tuple[str, str], set[int]] = {}
    for key in lake.list(f"ledger/feed={feed}/"):
        if key.endswith(".sent"):
            _, area, mrid, name = key.rsplit("/", 3)
            revision = name.removeprefix("r").removesuffix(".sent")
            sent.setdefault((area.removeprefix("area="), mrid), set()).add(int(revision))
    return sent
