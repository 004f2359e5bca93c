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
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from xml.parsers import expat
from xml.sax.saxutils import escape

SOAP = "application/soap+xml; charset=utf-8"
INBOX = "inbox"
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
            return Reply(200, soap_reply("OK", "endpoint ready"))
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
        landed = ", ".join(f"{p.document_type} {p.mrid} revision {p.revision}" for p in parts)
        return Reply(200, soap_reply("OK", f"received {landed}"))

    def _handled(self, part: Part) -> bool:
        if part.document_type not in self.document_types:
            raise Refused(
                400,
                f"document type {part.document_type} is not handled by this pipeline "
                f"(it expects {', '.join(sorted(self.document_types))})",
            )
        return True


def soap_reply(result: str, detail: str = "") -> str:
    """A SOAP 1.2 ResponseMessage (IEC 62325-504): Result OK or FAILED, the detail as text."""
    error = f"<msg:Error><msg:details>{escape(detail)}</msg:details></msg:Error>" if detail else ""
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

    One pass with expat: refuses a DTD or entity declaration before anything is expanded,
    takes each *_MarketDocument's bytes as they are (byte offsets, no re-serialising), and a
    document carried as escaped text inside <Payload> is read the same way.
    """
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(400, f"message is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    reader = _Reader(body)
    parts = reader.read()
    if not parts:
        raise Refused(400, f"no ENTSO-E market document found (root element is <{reader.root or '?'}>)")
    return parts


def _local(name: str) -> str:
    return name.rpartition(" ")[2]


class _Reader:
    def __init__(self, data: bytes):
        self.data = data
        self.root = ""
        self.parts: list[Part] = []
        self._path: list[str] = []
        self._doc: dict | None = None
        self._text: list[str] = []

    def read(self) -> list[Part]:
        parser = expat.ParserCreate(namespace_separator=" ")
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        parser.StartDoctypeDeclHandler = self._refuse_dtd
        parser.EntityDeclHandler = self._refuse_dtd
        parser.ExternalEntityRefHandler = self._refuse_dtd
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._text.append
        self._parser = parser
        try:
            parser.Parse(self.data, True)
        except expat.ExpatError as exc:
            raise Refused(400, f"not well-formed XML: {expat.errors.messages[exc.code]} (line {exc.lineno})") from None
        return self.parts

    def _refuse_dtd(self, *_):
        raise Refused(400, "message declares a DTD or entities, which are refused for safety")

    def _start(self, name: str, attributes: dict) -> None:
        local = _local(name)
        self.root = self.root or local
        self._path.append(local)
        self._text.clear()
        if self._doc is None and local.endswith("_MarketDocument"):
            namespace = name.rpartition(" ")[0]
            self._doc = {"kind": local, "start": self._parser.CurrentByteIndex, "depth": len(self._path)}
            self._doc["namespace"] = namespace
            self._doc["fields"] = {}

    def _end(self, name: str) -> None:
        local = _local(name)
        text = "".join(self._text).strip()
        self._text.clear()
        doc = self._doc
        if doc is not None:
            depth = len(self._path) - doc["depth"]
            fields = doc["fields"]
            if depth == 1 and local in ("mRID", "revisionNumber", "type"):
                fields.setdefault(local, text)
            elif depth == 2 and local in ("code", "text") and self._path[-2] == "Reason":
                fields.setdefault(f"reason_{local}", text)
            elif depth == 2 and local in _AREA_ELEMENTS and self._path[-2] == "TimeSeries":
                fields.setdefault("area", text)
            if depth == 0:
                self._finish(doc)
                self._doc = None
        elif local == "Payload" and text.startswith("<"):
            self.parts.extend(_Reader(text.encode("utf-8")).read())
        self._path.pop()

    def _finish(self, doc: dict) -> None:
        kind, fields = doc["kind"], doc["fields"]
        if kind == "Acknowledgement_MarketDocument":
            reason = fields.get("reason_code") or "?"
            raise Refused(400, f"ENTSO-E acknowledgement {reason}: {fields.get('reason_text', '')}")
        end = self.data.index(b">", self._parser.CurrentByteIndex) + 1
        data = self.data[doc["start"] : end]
        if doc["namespace"] and b"xmlns" not in data[: data.index(b">")]:
            # Its namespace was declared on the envelope: declare it on the document itself.
            data = data.replace(kind.encode(), f'{kind} xmlns="{doc["namespace"]}"'.encode(), 1)
        for required in ("mRID", "type"):
            if not fields.get(required):
                raise Refused(400, f"<{kind}> has no {required}")
        revision = fields.get("revisionNumber") or "1"
        if not revision.isdigit():
            raise Refused(400, f"revisionNumber must be a whole number, got {revision!r}")
        if not fields.get("area"):
            raise Refused(400, f"<{kind}> {fields['mRID']} names no area in its TimeSeries")
        self.parts.append(Part(fields["type"], fields["mRID"], int(revision), fields["area"], data))


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

    return FrontDoor(
        token=parameter("TOKEN_PARAMETER"),
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
