"""`python -m <package> webhook`: the local stand-in for the Prefect Cloud webhook.

An ASGI app that takes what ENTSO-E pushes (a SOAP RequestMessage carrying the document),
checks it, answers with a SOAP ResponseMessage as the push protocol expects, and turns it
into the very event the Cloud webhook makes (events.py), posted to the Prefect events API.
Bad messages are answered with a SOAP fault naming the problem and never become events.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ..documents import AcknowledgementError, DocumentError
from ..events import push_event
from ..feeds import FEEDS
from ..intake import accept
from ..settings import Settings

SOAP = "application/soap+xml; charset=utf-8"


def soap_reply(result: str, detail: str = "") -> str:
    error = f"<msg:Error><msg:details>{escape(detail)}</msg:details></msg:Error>" if detail else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>'
        '<msg:ResponseMessage xmlns:msg="http://iec.ch/TC57/2011/schema/message">'
        "<msg:Header><msg:Verb>reply</msg:Verb><msg:Noun>ETP-DOCUMENT</msg:Noun></msg:Header>"
        f"<msg:Reply><msg:Result>{result}</msg:Result>{error}</msg:Reply>"
        "</msg:ResponseMessage></env:Body></env:Envelope>"
    )


def create_app(api_url: str, settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    feed = FEEDS[settings.feed]
    events_url = f"{api_url.rstrip('/')}/events"
    client = httpx.AsyncClient(timeout=10)

    async def receive(request: Request) -> Response:
        declared = int(request.headers.get("content-length") or 0)
        if declared > settings.max_document_bytes:
            return _refuse(413, f"message is {declared:,} bytes, over the limit of {settings.max_document_bytes:,}")
        buffer = bytearray()  # appending to bytes would copy the whole body per chunk
        async for chunk in request.stream():
            buffer.extend(chunk)
            if len(buffer) > settings.max_document_bytes:
                return _refuse(413, f"message is over the limit of {settings.max_document_bytes:,} bytes")
        body = bytes(buffer)
        try:
            accept(body, feed, settings)
            text = body.decode("utf-8")
        except (DocumentError, AcknowledgementError, UnicodeDecodeError) as exc:
            return _refuse(400, str(exc))
        response = await client.post(events_url, json=[push_event(text)])
        if response.status_code >= 300:
            return _refuse(503, f"Prefect did not take the event (HTTP {response.status_code}); send again later")
        return Response(soap_reply("OK"), media_type=SOAP)

    async def health(_: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/", receive, methods=["POST"]), Route("/health", health)])


def _refuse(status: int, detail: str) -> Response:
    return Response(soap_reply("FAILED", detail), status_code=status, media_type=SOAP)
