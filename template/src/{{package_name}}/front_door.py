"""The push front door: what ENTSO-E's push subscription posts to. Standard library and boto3 only.

One handler, two hosts: AWS Lambda behind a function URL (`lambda_handler`, this file is the
whole Lambda package) and the local Starlette receiver (`local/receiver.py`) that the demo and
the tests run. For every request it:

1. answers ENTSO-E's endpoint check (an empty POST) with a SOAP reply, not 400;
2. refuses a wrong path token (404), an oversized body or payload (413) or bytes it cannot
   trust (400: not UTF-8, not well-formed, a DTD or entity, a `Compressed` payload that is
   not gzip), without landing anything;
3. answers `OK` to authentic but unusable content (an acknowledgement, another document type,
   no market document, more documents than the cap per push) and lands the message whole
   under `quarantine/front-door/` with its reason beside it: never processed, no event;
4. lands each market document of the message in the lake under `inbox/`, keyed by its
   content, so a redelivery lands on the same key;
5. posts one small JSON event per document to the webhook (Prefect Cloud's, or the local
   stand-in), which the webhook template (events.py) turns into the trigger's event;
6. answers `OK` only when every document is landed and every event accepted; a fault with a
   5xx when the lake or the webhook is unreachable, so ENTSO-E delivers again. A document
   landed whose event was lost is found by the scheduled sweep (flows.poll_latest).

The protocol is IEC 62325-504 as Red Eléctrica's reference kit implements it
(github.com/gavioto/eemws-core @ 90b72a7, files under eemws-core/src/main/resources/):
`wsdl/urn-iec62325-504-wss-1-0.wsdl` binds SOAP 1.2 and `wsdl/urn-iec62325-504-wss-1-0-soap11.wsdl`
SOAP 1.1, so a request in either version is answered in its own; the IEC 61968-100 message
schema `xsd/http-iec-ch-TC57-2011-schema-message.xsd` (copied to samples/iec62325-504/)
lets a Payload hold XML, an `OperationSet` or `Compressed` (gzip, base64 text, with a
`Format`, as eemws-utils' MessageUtil.createRequestWithCompressedXmlPayload writes it); an
error is a SOAP Fault whose detail is a `msg:FaultMessage`, as eemws-utils'
iec61968100/FaultUtil.java builds it (Reply, Result FAILED, an Error with `code` and `details`).

Nothing here imports the rest of the package: Lambda runs this one file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from xml.parsers import expat
from xml.sax.saxutils import escape, unescape

SOAP = "application/soap+xml; charset=utf-8"
SOAP_12 = "http://www.w3.org/2003/05/soap-envelope"
SOAP_11 = "http://schemas.xmlsoap.org/soap/envelope/"
CONTENT_TYPES = {SOAP_12: SOAP, SOAP_11: "text/xml; charset=utf-8"}
MESSAGE_NS = "http://iec.ch/TC57/2011/schema/message"  # IEC 61968-100
INBOX = "inbox"
QUARANTINE = "quarantine/front-door"  # authentic messages this pipeline cannot use, with their reason
PLACEHOLDER_PREFIX = "unset"  # what Pulumi writes into the parameters (infrastructure/front_door.py)
DEFAULT_MAX_BYTES = 6 * 1024 * 1024  # the message (or a Compressed payload inflated) on either host
# What AWS hands a Lambda per synchronous invoke: the whole event as JSON, 6 MB (Lambda quotas;
# the Invoke API's "Request must be smaller than 6291456 bytes"). A function URL base64-encodes
# a body whose content type is not text, SOAP 1.2's application/soap+xml among them, so such a
# message gets 3/4 of it: LAMBDA_MESSAGE_BYTES (docs/explanation/decisions.md, "size").
LAMBDA_PAYLOAD_BYTES = 6 * 1024 * 1024
EVENT_HEADROOM_BYTES = 8 * 1024  # the event's other fields: headers, request context
LAMBDA_MESSAGE_BYTES = (LAMBDA_PAYLOAD_BYTES - EVENT_HEADROOM_BYTES) * 3 // 4  # 4,712,448: any content type fits
# One push carries one document in every message seen (docs/explanation/decisions.md); beyond
# this many the message is quarantined whole, never turned into one event (and run) each.
DEFAULT_MAX_DOCUMENTS = 50
# Which element of a TimeSeries names its area (documents.py reads the same ones).
_AREA_ELEMENTS = ("inBiddingZone_Domain.mRID", "in_Domain.mRID", "outBiddingZone_Domain.mRID", "out_Domain.mRID")


class Refused(Exception):
    """The request is answered with a SOAP Fault and this status; nothing more happens."""

    def __init__(self, status: int, detail: str):
        self.status = status
        self.detail = detail
        super().__init__(detail)


class Unusable(Refused):
    """Authentic, well-formed, but nothing this pipeline processes: quarantined, answered OK."""

    def __init__(self, detail: str):
        super().__init__(200, detail)


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
    note: dict = field(default_factory=dict)  # for the host's log line (never the token)


@dataclass(frozen=True)
class FrontDoor:
    """What a host gives the handler: the secret, the limits, and where to land and notify."""

    token: str
    document_types: frozenset[str]
    land: Callable[[str, bytes], object]
    notify: Callable[[dict], None]
    max_bytes: int = DEFAULT_MAX_BYTES
    max_documents: int = DEFAULT_MAX_DOCUMENTS

    def handle(self, method: str, path: str, body: bytes) -> Reply:
        soap = soap_version(body)
        if not self.token or not hmac.compare_digest(path.strip("/").encode(), self.token.encode()):
            return fault(404, "unknown endpoint", soap)
        if method.upper() != "POST":
            return fault(405, "post ENTSO-E push messages here", soap)
        if not body.strip():
            # ENTSO-E checks a new endpoint with an empty POST and wants anything but 400.
            return ok(soap)
        try:
            if len(body) > self.max_bytes:
                raise Refused(413, f"message is {len(body):,} bytes, over the limit of {self.max_bytes:,}")
            parts = [p for p in split_message(body, self.max_bytes, self.max_documents) if self._handled(p)]
        except Unusable as unusable:
            return self._quarantine(body, unusable.detail, soap)
        except Refused as refusal:
            return fault(refusal.status, refusal.detail, soap)
        for part in parts:
            try:
                self.land(part.key, part.data)
            except Exception as exc:  # any failure to land means: deliver again later
                return fault(503, f"the lake did not take the message ({type(exc).__name__}); send again later", soap)
        for part in parts:
            try:
                self.notify(part.event())
            except Exception as exc:
                return fault(503, f"Prefect did not take the event ({exc}); send again later", soap)
        return ok(soap)

    def _handled(self, part: Part) -> bool:
        if part.document_type not in self.document_types:
            raise Unusable(
                f"document type {part.document_type} is not handled by this pipeline "
                f"(it expects {', '.join(sorted(self.document_types))})"
            )
        return True

    def _quarantine(self, body: bytes, reason: str, soap: str) -> Reply:
        """Lands the message whole with its reason; answers OK so a refusal never counts against the feed.

        Keyed by content and day: a redelivery lands on the same keys. Nothing is notified.
        """
        key = f"{QUARANTINE}/{time.strftime('%Y-%m-%d', time.gmtime())}/{hashlib.sha256(body).hexdigest()[:16]}"
        record = {"message": f"{key}.xml", "reason": reason, "bytes": len(body), "at": time.time()}
        try:
            self.land(f"{key}.xml", body)
            self.land(f"{key}.json", json.dumps(record).encode())
        except Exception as exc:
            return fault(503, f"the lake did not take the message ({type(exc).__name__}); send again later", soap)
        return ok(soap, note={"quarantined": f"{key}.xml", "reason": reason[:300]})


def soap_version(body: bytes) -> str:
    """The SOAP namespace of the request's envelope: SOAP 1.1's, or SOAP 1.2's (also for anything else)."""
    root = _START_TAG.search(body, 0, 8192)
    if root and root.group(1).rpartition(b":")[2] == b"Envelope":
        prefix = root.group(1).rpartition(b":")[0]
        declaration = (b"xmlns:" + prefix) if prefix else b"xmlns"
        if re.search(re.escape(declaration) + rb"""\s*=\s*["']""" + re.escape(SOAP_11.encode()), root.group(2)):
            return SOAP_11
    return SOAP_12


_START_TAG = re.compile(rb"<(?![?!])([^\s/>]+)([^>]*)>")


def _envelope(soap: str, body: str) -> str:
    declaration = '<?xml version="1.0" encoding="UTF-8"?>'
    return f'{declaration}<env:Envelope xmlns:env="{soap}"><env:Body>{body}</env:Body></env:Envelope>'


def _error(detail: str, code: str) -> str:
    """An IEC 61968-100 ErrorType; `code` is required, its values local (the kit has HAND-021...; here FD-<status>)."""
    return f"<msg:Error><msg:code>{escape(code)}</msg:code><msg:details>{escape(detail)}</msg:details></msg:Error>"


def soap_reply(result: str, detail: str = "", soap: str = SOAP_12, code: str = "FD-400") -> str:
    """A ResponseMessage (IEC 62325-504): Result OK, or FAILED with the reason as its Error."""
    error = _error(detail, code) if detail and result != "OK" else ""
    return _envelope(
        soap,
        f'<msg:ResponseMessage xmlns:msg="{MESSAGE_NS}">'
        "<msg:Header><msg:Verb>reply</msg:Verb><msg:Noun>ETP-DOCUMENT</msg:Noun></msg:Header>"
        f"<msg:Reply><msg:Result>{result}</msg:Result>{error}</msg:Reply>"
        "</msg:ResponseMessage>",
    )


def fault_message(status: int, detail: str, soap: str = SOAP_12) -> str:
    """A SOAP Fault carrying a msg:FaultMessage, as the kit's FaultUtil.getFaultMessageFromException builds it.

    4xx is the sender's fault (SOAP 1.2 env:Sender, SOAP 1.1 Client), 5xx the receiver's: send again.
    The HTTP status stays what tells ENTSO-E whether to send again (decisions.md).
    """
    faulty = f'<msg:FaultMessage xmlns:msg="{MESSAGE_NS}"><msg:Reply><msg:Result>FAILED</msg:Result>'
    faulty += f"{_error(detail, f'FD-{status}')}</msg:Reply></msg:FaultMessage>"
    sender = status < 500
    if soap == SOAP_11:
        inner = (
            f"<env:Fault><faultcode>env:{'Client' if sender else 'Server'}</faultcode>"
            f"<faultstring>{escape(detail)}</faultstring><detail>{faulty}</detail></env:Fault>"
        )
    else:
        inner = (
            f"<env:Fault><env:Code><env:Value>env:{'Sender' if sender else 'Receiver'}</env:Value></env:Code>"
            f'<env:Reason><env:Text xml:lang="en">{escape(detail)}</env:Text></env:Reason>'
            f"<env:Detail>{faulty}</env:Detail></env:Fault>"
        )
    return _envelope(soap, inner)


def ok(soap: str = SOAP_12, note: dict | None = None) -> Reply:
    return Reply(200, soap_reply("OK", soap=soap), {"content-type": CONTENT_TYPES[soap]}, note or {})


def fault(status: int, detail: str, soap: str = SOAP_12) -> Reply:
    return Reply(status, fault_message(status, detail, soap), {"content-type": CONTENT_TYPES[soap]})


def safe_name(mrid: str) -> str:
    """As lake.safe_name (a test keeps them equal): the mRID as a file name."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in mrid)


# ---------------------------------------------------------------- reading a message cheaply


def split_message(
    body: bytes, max_bytes: int = DEFAULT_MAX_BYTES, max_documents: int | None = None, _depth: int = 0
) -> list[Part]:
    """The market documents of a push message (an envelope, or a bare document), checked cheaply.

    expat checks the whole message is well-formed UTF-8 XML and refuses a DTD or an entity
    declaration before anything is expanded; with no element handlers it runs at C speed
    (a 10 MB message in well under a second). The documents are then found in the bytes
    as they are (no re-serialising), and a document carried as escaped text inside
    <Payload>, or as a `Compressed` payload (gzip, base64; inflated to at most `max_bytes`),
    is read the same way. More than `max_documents` documents: Unusable, before any is read.
    """
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(400, f"message is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    _check_well_formed(body)
    for hidden in _HIDDEN.finditer(body) if b"<!" in body else ():
        if _DOCUMENT.search(body, hidden.start(), hidden.end()):
            raise Refused(400, "a market document's start tag sits in a comment or CDATA section, hidden from the XML")
    if max_documents is not None:
        count = sum(1 for _ in _DOCUMENT.finditer(body))
        if count > max_documents:
            raise Unusable(f"{count:,} documents, over the cap of {max_documents:,} per push")
    parts = []
    position = 0
    while start := _DOCUMENT.search(body, position):
        name, kind = start.group(1), start.group(2).decode()
        end = re.compile(rb"</" + re.escape(name) + rb"\s*>").search(body, start.end())
        if end is None:  # expat saw it well-formed, so only a self-closed, empty document
            raise Unusable(f"<{kind}> is empty")
        parts.append(_part(kind, body[start.start() : end.end()], _declared_namespace(body, start.start())))
        position = end.end()
    if not parts:
        if _depth > 1:
            raise Refused(400, "a payload nested in a payload nested in a payload is refused")
        compressed = _COMPRESSED.search(body)
        if compressed:
            form = _FORMAT.search(body)
            if form and form.group(1).strip().upper() not in (b"XML", b""):
                raise Unusable(f"Compressed payload of Format {form.group(1).strip().decode()!r}, not XML")
            inflated = inflate_compressed(compressed.group(1), max_bytes)
            return split_message(inflated, max_bytes, max_documents, _depth + 1)
        payload = _PAYLOAD.search(body)
        text = unescape(payload.group(1).decode()).strip() if payload else ""
        if text.startswith("<"):
            return split_message(text.encode("utf-8"), max_bytes, max_documents, _depth + 1)
        root = _ROOT.search(body)
        raise Unusable(f"no ENTSO-E market document found (root element is <{_name(root)}>)")
    return parts


def inflate_compressed(text: bytes, limit: int) -> bytes:
    """A `Compressed` payload's bytes: base64 text of gzip (the kit's GZIPUtil), at most `limit` inflated.

    Inflated in one bounded call: a zip bomb stops at `limit` + 1 bytes, it is never expanded whole.
    """
    try:
        packed = base64.b64decode(b"".join(_CHARACTER_REFERENCE.sub(b"", text).split()), validate=True)
    except (binascii.Error, ValueError):
        raise Refused(400, "the Compressed payload is not base64 text") from None
    inflater = zlib.decompressobj(wbits=31)  # gzip only
    try:
        data = inflater.decompress(packed, limit + 1)
    except zlib.error as exc:
        raise Refused(400, f"the Compressed payload is not gzip ({exc})") from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise Refused(413, f"the Compressed payload inflates to more than the limit of {limit:,} bytes")
    if not inflater.eof or inflater.unused_data:
        raise Refused(400, "the Compressed payload is not one whole gzip stream")
    return data


_DOCUMENT = re.compile(rb"<((?:[\w.-]+:)?(\w+_MarketDocument))[\s/>]")
_PAYLOAD = re.compile(rb"<(?:[\w.-]+:)?Payload(?:\s[^>]*)?>(.*?)</(?:[\w.-]+:)?Payload\s*>", re.DOTALL)
_COMPRESSED = re.compile(rb"<(?:[\w.-]+:)?Compressed(?:\s[^>]*)?>([^<]*)</(?:[\w.-]+:)?Compressed\s*>")
_FORMAT = re.compile(rb"<(?:[\w.-]+:)?Format(?:\s[^>]*)?>([^<]*)</(?:[\w.-]+:)?Format\s*>")
_HIDDEN = re.compile(rb"<!--.*?-->|<!\[CDATA\[.*?\]\]>", re.DOTALL)  # what the pattern split must not look into
_CHARACTER_REFERENCE = re.compile(rb"&#(?:13|10|x[dDaA]);")  # line ends a serialiser may escape
_ROOT = re.compile(rb"<([\w.:-]+)")
_DEFAULT_NAMESPACE = re.compile(rb'xmlns="([^"]*)"')


def _declared_namespace(body: bytes, end: int) -> bytes | None:
    """The last default namespace declared before `end` (no copy of the body: linear in documents)."""
    at = body.rfind(b'xmlns="', 0, end)
    match = _DEFAULT_NAMESPACE.match(body, at) if at >= 0 else None
    return match.group(1) if match else None


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


def _part(kind: str, data: bytes, declared: bytes | None) -> Part:
    header, _, series = data.partition(b"TimeSeries>")
    if kind == "Acknowledgement_MarketDocument":
        raise Unusable(f"ENTSO-E acknowledgement {_field(data, 'code') or '?'}: {_field(data, 'text')}")
    head = data[: data.index(b">")]
    if b"xmlns=" not in head and declared is not None:
        # its namespace was declared on the envelope: declare it on the document itself
        data = data.replace(kind.encode(), kind.encode() + b' xmlns="' + declared + b'"', 1)
    mrid, document_type = _field(header, "mRID"), _field(header, "type")
    for required, value in (("mRID", mrid), ("type", document_type)):
        if not value:
            raise Unusable(f"<{kind}> has no {required}")
    revision = _field(header, "revisionNumber") or "1"
    if not revision.isdigit():
        raise Unusable(f"revisionNumber must be a whole number, got {revision!r}")
    area = next((a for a in (_field(series[:4096], n) for n in _AREA_ELEMENTS) if a), "")
    if not area:
        raise Unusable(f"<{kind}> {mrid} names no area in its TimeSeries")
    return Part(document_type, mrid, int(revision), area, data)


# ---------------------------------------------------------------- AWS Lambda host

_door: FrontDoor | None = None


def lambda_handler(event: dict, context: object) -> dict:
    """A function URL request (API Gateway payload 2.0) in, the SOAP reply out."""
    global _door
    if _door is None:
        _door = lambda_front_door()
    response = answer_event(_door, event)
    if response["statusCode"] >= 500 or not _door.token:
        _door = None  # read the parameters again next time: the webhook URL may have been rotated
    return response


def answer_event(door: FrontDoor, event: dict) -> dict:
    """One function-URL event through `door`: the body decoded as AWS encoded it, refused over AWS's limit."""
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode("utf-8")
    method = event.get("requestContext", {}).get("http", {}).get("method", "POST")
    started = time.perf_counter()
    size = invoke_payload_bytes(event)
    if size > LAMBDA_PAYLOAD_BYTES:  # AWS refuses this before the handler: the same limit, here as a Fault
        detail = f"the request is {size:,} bytes as a Lambda event, over the {LAMBDA_PAYLOAD_BYTES:,} AWS takes"
        reply = fault(413, detail, soap_version(body))
    else:
        reply = door.handle(method, event.get("rawPath", "/"), body)
    # One log line per request: status, size and time. Never the path (it holds the token).
    ms = round(1000 * (time.perf_counter() - started))
    print(json.dumps({"status": reply.status, "bytes": len(body), "ms": ms, **reply.note}))
    return {"statusCode": reply.status, "headers": reply.headers, "body": reply.body}


def invoke_payload_bytes(event: dict) -> int:
    """The event's size as Lambda's 6 MB limit counts it: the JSON of the whole event, body as delivered."""
    return len(json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


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
    # A Prefect Cloud service account's API key, where the plan lets a webhook require one
    # (Pro and Enterprise; Prefect docs, Webhooks, "Webhook Authentication"): sent as a Bearer token.
    key = parameter("WEBHOOK_KEY_PARAMETER") if os.environ.get("WEBHOOK_KEY_PARAMETER") else ""
    headers = {} if not key or key.startswith(PLACEHOLDER_PREFIX) else {"Authorization": f"Bearer {key}"}
    return FrontDoor(
        token="" if token.startswith(PLACEHOLDER_PREFIX) else token,  # not set up yet: refuse all
        document_types=frozenset(os.environ["DOCUMENT_TYPES"].split(",")),
        land=land,
        notify=lambda event: post_json(webhook_url, event, headers=headers),
        max_bytes=int(os.environ.get("MAX_BYTES", DEFAULT_MAX_BYTES)),
        max_documents=int(os.environ.get("MAX_DOCUMENTS", DEFAULT_MAX_DOCUMENTS)),
    )


def post_json(url: str, payload: dict, timeout_s: float = 10.0, headers: dict | None = None) -> None:
    """POST a JSON object; any answer but 2xx raises (Prefect Cloud webhooks answer 204 or 400, and refuse
    a request without the key of the service account a webhook requires)."""
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
        method="POST",
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
