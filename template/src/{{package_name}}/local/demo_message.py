"""The push message the demo posts: your zone and feed, from the documents bundled in samples/.

In order: the feed's sample push message (samples/push/<feed>.xml) if it is for your zone; a
bundled document of your feed and zone (samples/documents/, then constructed/), in the same
envelope; otherwise the feed's sample relabelled to your zone (its area EIC code in every
domain element) with its mRID marked, so the newsletter says it shows sample data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from entsoe.mappings import Area

from ..documents import AcknowledgementError, DocumentError, read_document
from ..feeds import Feed
from ..newsletter import SAMPLE_MRID_PREFIX

# The elements that name a TimeSeries' area (documents.py reads the same ones).
_DOMAIN = re.compile(
    rb"(<(?:inBiddingZone_Domain|in_Domain|outBiddingZone_Domain|out_Domain|biddingZone_Domain)\.mRID\b[^>]*>)"
    rb"[^<]*(</)"
)
_MRID = re.compile(rb"(_MarketDocument\b[^>]*>\s*<mRID>)([^<]*)(</mRID>)")
_DOCUMENT = re.compile(rb"<(?:\w+:)?\w+_MarketDocument\b.*</(?:\w+:)?\w+_MarketDocument\s*>", re.DOTALL)


@dataclass(frozen=True)
class DemoMessage:
    body: bytes
    source: str  # the bundled file it comes from, relative to samples/
    relabelled: bool  # another zone's data under your zone's code


def demo_message(feed: Feed, area: Area, samples: Path) -> DemoMessage:
    """The message for `feed` and `area`: bundled data for that zone if any, else the relabelled sample."""
    push = samples / "push" / f"{feed.name}.xml"
    envelope = push.read_bytes()
    sample = read_document(envelope)
    if sample.area == area.code:
        return DemoMessage(envelope, _relative(push, samples), relabelled=False)
    own = _bundled_document(samples, feed.document_type, area.code, prefer_process=sample.process_type)
    if own is not None:
        return DemoMessage(_in_envelope(envelope, own.read_bytes()), _relative(own, samples), relabelled=False)
    return DemoMessage(relabel(envelope, area.code), _relative(push, samples), relabelled=True)


def relabel(message: bytes, area_code: str) -> bytes:
    """The message with `area_code` in every domain element and its document mRID marked as a sample."""
    code = area_code.encode()
    relabelled = _DOMAIN.sub(lambda m: m.group(1) + code + m.group(2), message)
    return _MRID.sub(lambda m: m.group(1) + SAMPLE_MRID_PREFIX.encode() + m.group(2) + m.group(3), relabelled, count=1)


def _bundled_document(samples: Path, document_type: str, area_code: str, prefer_process: str) -> Path | None:
    """A real (documents/), else constructed, document of the type and zone; the sample's process type first."""
    found = []
    for path in [*sorted(samples.glob("documents/*.xml")), *sorted(samples.glob("constructed/*.xml"))]:
        try:
            document = read_document(path.read_bytes())
        except (DocumentError, AcknowledgementError):
            continue
        if document.document_type == document_type and document.area == area_code:
            found.append((document.process_type != prefer_process, path))
    return min(found, key=lambda pair: pair[0])[1] if found else None


def _in_envelope(envelope: bytes, document: bytes) -> bytes:
    """The sample's push envelope around another document (its XML declaration dropped)."""
    body = re.sub(rb"^\s*(<\?xml[^>]*\?>)?\s*", b"", document.removeprefix(b"\xef\xbb\xbf"))
    return _DOCUMENT.sub(lambda _: body.strip(), envelope, count=1)


def _relative(path: Path, samples: Path) -> str:
    return f"samples/{path.relative_to(samples).as_posix()}"
