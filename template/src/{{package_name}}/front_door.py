"""The push front door: what ENTSO-E's push subscription posts to. Standard library and boto3 only.

One handler, two hosts: AWS Lambda behind a function URL (`lambda_handler`, this file is the
whole Lambda package) and the local Starlette receiver (`local/receiver.py`) that the demo and
the tests run. For every request it:

1. answers ENTSO-E's endpoint check (an empty POST) with a SOAP reply, not 400;
2. refuses a wrong path token (404), an oversized body (413) or a message it cannot trust
   (400: not UTF-8, not well-formed, a DTD or entity, an acknowledgement, a document type
   this pipeline does not handle), without landing anything;
3. lands each market document of the message in the lake under `inbox/`, keyed by its
   content, so a redelivery lands on the same key;
4. posts one small JSON event per document to the webhook (Prefect Cloud's, or the local
   stand-in), which the webhook template (events.py) turns into the trigger's event;
5. answers SOAP `OK` only when every document is landed and every event accepted; `FAILED`
   with a 5xx when the lake or the webhook is unreachable, so ENTSO-E delivers again. A
   document landed whose event was lost is found by the scheduled sweep (flows.poll_latest).

Nothing here imports the rest of the package: Lambda runs this one file.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from xml.parsers import expat
from xml.sax.saxutils import escape, unescape

SOAP = "application/soap+xml; charset=utf-8"
INBOX = "inbox"
PLACEHOLDER_PREFIX = "unset"  # what Pulumi writes into the parameters (infrastructure/front_door.py)
DEFAULT_MAX_BYTES = 6 * 1024 * 1024  # a Lambda function URL takes at most 6 MB per request
# Which element of a TimeSeries names its area (documents.py reads the same ones).
_AREA_ELEMENTS = ("inBiddingZone_Domain.mRID", "in_Domain.mRID", "outBiddingZone_Domain.mRID", "out_Domain.mRID")


class Refused(Exception):
    """The request is answered with SOAP FAILED and this status; nothing more happens."""

    def __init__(self, status: int, detail: str):
        self.status = status
        self.detail = detail
        super().__init__(detail)


@dataclass(frozen=True)
class Part:
    """One market document of a push message, with what the trigger and the newsletter need."""

    document_type: str
    mrid: str
    revision: int
    area: str
    data: bytes

    @property
    def key(self) -> str:
        digest = hashlib.sha256(self.data).hexdigest()[:16]
        return (
            f"{INBOX}/type={self.document_type}/area={self.area}/{safe_name(self.mrid)}_r{self.revision}_{digest}.xml"
        )

    def event(self) -> dict:
        return {
            "key": self.key,
            "document_type": self.document_type,
            "mrid": self.mrid,
            "revision": self.revision,
            "area": self.area,
            "bytes": len(self.data),
        }


@dataclass(frozen=True)
class Reply:
    status: int
    body: str
    headers: dict = field(default_factory=lambda: {"content-type": SOAP})


@dataclass(frozen=True)
class FrontDoor:
    """What a host gives the handler: the secret, the limits, and where to land and notify."""

    token: str
    document_types: frozenset[str]
    land: Callable[[str, bytes], object]
    notify: Callable[[dict], None]
    max_bytes: int = DEFAULT_MAX_BYTES

    def handle(self, method: str, path: str, body: bytes) -> Reply:
        if not self.token or not hmac.compare_digest(path.strip("/").encode(), self.token.encode()):
            return _failed(404, "unknown endpoint")
        if method.upper() != "POST":
            return _failed(405, "post ENTSO-E push messages here")
        if not body.strip():
            # ENTSO-E checks a new endpoint with an empty POST and wants anything but 400.
            return Reply(200, soap_reply("OK"))
        try:
            if len(body) > self.max_bytes:
                raise Refused(413, f"message is {len(body):,} bytes, over the limit of {self.max_bytes:,}")
            parts = [p for p in split_message(body) if self._handled(p)]
        except Refused as refusal:
            return _failed(refusal.status, refusal.detail)
        for part in parts:
            try:
                self.land(part.key, part.data)
            except Exception as exc:  # any failure to land means: deliver again later
                return _failed(503, f"the lake did not take the message ({type(exc).__name__}); send again later")
        for part in parts:
            try:
                self.notify(part.event())
            except Exception as exc:
                return _failed(503, f"Prefect did not take the event ({exc}); send again later")
        return Reply(200, soap_reply("OK"))

    def _handled(self, part: Part) -> bool:
        if part.document_type not in self.document_types:
            raise Refused(
                400,
                f"document type {part.document_type} is not handled by this pipeline "
                f"(it expects {', '.join(sorted(self.document_types))})",
            )
        return True


def soap_reply(result: str, detail: str = "") -> str:
    """A SOAP 1.2 ResponseMessage (IEC 62325-504): Result OK, or FAILED with the reason as its Error."""
    error = f"<msg:Error><msg:details>{escape(detail)}</msg:details></msg:Error>" if detail and result != "OK" else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>'
        '<msg:ResponseMessage xmlns:msg="http://iec.ch/TC57/2011/schema/message">'
        "<msg:Header><msg:Verb>reply</msg:Verb><msg:Noun>ETP-DOCUMENT</msg:Noun></msg:Header>"
        f"<msg:Reply><msg:Result>{result}</msg:Result>{error}</msg:Reply>"
        "</msg:ResponseMessage></env:Body></env:Envelope>"
    )


def _failed(status: int, detail: str) -> Reply:
    return Reply(status, soap_reply("FAILED", detail))


def safe_name(mrid: str) -> str:
    """As lake.safe_name (a test keeps them equal): the mRID as a file name."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in mrid)


# ---------------------------------------------------------------- reading a message cheaply


def split_message(body: bytes) -> list[Part]:
    """The market documents of a push message (an envelope, or a bare document), checked cheaply.

    expat checks the whole message is well-formed UTF-8 XML and refuses a DTD or an entity
    declaration before anything is expanded; with no element handlers it runs at C speed
    (a 10 MB message in well under a second). The documents are then found in the bytes
    as they are (no re-serialising), and a document carried as escaped text inside
    <Payload> is read the same way.
    """
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(400, f"message is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    _check_well_formed(body)
    parts = []
    position = 0
    while start := _DOCUMENT.search(body, position):
        name, kind = start.group(1), start.group(2).decode()
        end = re.compile(rb"</" + re.escape(name) + rb"\s*>").search(body, start.end())
        if end is None:  # expat saw it well-formed, so only a self-closed, empty document
            raise Refused(400, f"<{kind}> is empty")
        parts.append(_part(kind, body[start.start() : end.end()], body[: start.start()]))
        position = end.end()
    if not parts:
        payload = _PAYLOAD.search(body)
        text = unescape(payload.group(1).decode()).strip() if payload else ""
        if text.startswith("<"):
            return split_message(text.encode("utf-8"))
        root = _ROOT.search(body)
        raise Refused(400, f"no ENTSO-E market document found (root element is <{_name(root)}>)")
    return parts


_DOCUMENT = re.compile(rb"<((?:[\w.-]+:)?(\w+_MarketDocument))[\s/>]")
_PAYLOAD = re.compile(rb"<(?:[\w.-]+:)?Payload(?:\s[^>]*)?>(.*?)</(?:[\w.-]+:)?Payload\s*>", re.DOTALL)
_ROOT = re.compile(rb"<([\w.:-]+)")
_DEFAULT_NAMESPACE = re.compile(rb'xmlns="([^"]*)"')


def _name(match: re.Match | None) -> str:
    return match.group(1).decode() if match else "?"


def _check_well_formed(body: bytes) -> None:
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    parser.ExternalEntityRefHandler = _refuse_dtd
    try:
        parser.Parse(body, True)
    except expat.ExpatError as exc:
        raise Refused(400, f"not well-formed XML: {expat.errors.messages[exc.code]} (line {exc.lineno})") from None


def _refuse_dtd(*_):
    raise Refused(400, "message declares a DTD or entities, which are refused for safety")


def _field(block: bytes, name: str) -> str:
    match = re.search(rb"<(?:[\w.-]+:)?" + re.escape(name.encode()) + rb"(?:\s[^>]*)?>([^<]*)<", block)
    return match.group(1).decode().strip() if match else ""


def _part(kind: str, data: bytes, before: bytes) -> Part:
    header, _, series = data.partition(b"TimeSeries>")
    if kind == "Acknowledgement_MarketDocument":
        raise Refused(400, f"ENTSO-E acknowledgement {_field(data, 'code') or '?'}: {_field(data, 'text')}")
    head = data[: data.index(b">")]
    if b"xmlns=" not in head:
        declared = _DEFAULT_NAMESPACE.findall(before)
        if declared:  # its namespace was declared on the envelope: declare it on the document itself
            data = data.replace(kind.encode(), kind.encode() + b' xmlns="' + declared[-1] + b'"', 1)
    mrid, document_type = _field(header, "mRID"), _field(header, "type")
    for required, value in (("mRID", mrid), ("type", document_type)):
        if not value:
            raise Refused(400, f"<{kind}> has no {required}")
    revision = _field(header, "revisionNumber") or "1"
    if not revision.isdigit():
        raise Refused(400, f"revisionNumber must be a whole number, got {revision!r}")
    area = next((a for a in (_field(series[:4096], n) for n in _AREA_ELEMENTS) if a), "")
    if not area:
        raise Refused(400, f"<{kind}> {mrid} names no area in its TimeSeries")
    return Part(document_type, mrid, int(revision), area, data)


# ---------------------------------------------------------------- AWS Lambda host

_door: FrontDoor | None = None


def lambda_handler(event: dict, context: object) -> dict:
    """A function URL request (API Gateway payload 2.0) in, the SOAP reply out."""
    global _door
    if _door is None:
        _door = lambda_front_door()
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode("utf-8")
    method = event.get("requestContext", {}).get("http", {}).get("method", "POST")
    started = time.perf_counter()
    reply = _door.handle(method, event.get("rawPath", "/"), body)
    if reply.status >= 500 or not _door.token:
        _door = None  # read the parameters again next time: the webhook URL may have been rotated
    # One log line per request: status, size and time. Never the path (it holds the token).
    print(json.dumps({"status": reply.status, "bytes": len(body), "ms": round(1000 * (time.perf_counter() - started))}))
    return {"statusCode": reply.status, "headers": reply.headers, "body": reply.body}


def lambda_front_door() -> FrontDoor:
    """The Lambda's door: token and webhook URL from SSM SecureStrings, the lake bucket from env."""
    import boto3

    ssm = boto3.client("ssm")

    def parameter(name: str) -> str:
        return ssm.get_parameter(Name=os.environ[name], WithDecryption=True)["Parameter"]["Value"]

    s3 = boto3.client("s3")
    bucket = os.environ["LAKE_BUCKET"]
    webhook_url = parameter("WEBHOOK_URL_PARAMETER")

    def land(key: str, data: bytes) -> None:
        s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType="application/xml")

    token = parameter("TOKEN_PARAMETER")
    return FrontDoor(
        token="" if token.startswith(PLACEHOLDER_PREFIX) else token,  # not set up yet: refuse all
        document_types=frozenset(os.environ["DOCUMENT_TYPES"].split(",")),
        land=land,
        notify=lambda event: post_json(webhook_url, event),
        max_bytes=int(os.environ.get("MAX_BYTES", DEFAULT_MAX_BYTES)),
    )


def post_json(url: str, payload: dict, timeout_s: float = 10.0) -> None:
    """POST a JSON object; any answer but 2xx raises (Prefect Cloud webhooks answer 204 or 400)."""
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError) as exc:
        raise ConnectionError(f"webhook unreachable: {getattr(exc, 'reason', exc)}") from None
    if not 200 <= status < 300:
        raise ConnectionError(f"webhook answered HTTP {status}")
