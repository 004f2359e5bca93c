"""`python -m <package> webhook`: the front door and the Cloud webhook, both on this machine.

Two routes, as production has two hosts:

- `POST /<token>`: the push front door (front_door.py, the very handler the Lambda runs),
  landing into the configured lake and posting its small events to the route below;
- `POST /hooks/local`: a stand-in for the Prefect Cloud webhook. It renders the same template
  Cloud would (events.WEBHOOK_TEMPLATE) and posts the event to the Prefect events API,
  answering 204 or 400 as Cloud does (503 when the Prefect API cannot be reached).
"""

from __future__ import annotations

import hmac

import httpx
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ..events import render_webhook
from ..feeds import FEEDS
from ..front_door import FrontDoor, Reply, fault, post_json
from ..lake import open_lake
from ..settings import Settings

WEBHOOK_PATH = "/hooks/local"


def local_front_door(settings: Settings, token: str, webhook_url: str) -> FrontDoor:
    """The front door as the local receiver hosts it: the configured lake, the local webhook."""
    lake = open_lake(settings)
    return FrontDoor(
        token=token,
        document_types=frozenset({FEEDS[settings.feed].document_type}),
        land=lake.put,
        notify=lambda event: post_json(webhook_url, event),
        max_bytes=settings.max_document_bytes,
    )


def create_app(
    api_url: str, token: str, webhook_url: str, settings: Settings | None = None, webhook_key: str = ""
) -> Starlette:
    """`webhook_key`: the stand-in webhook requires it as a Bearer token, as a Cloud webhook given a
    service account does (Prefect docs, Webhooks, "Webhook Authentication"); refused with 401."""
    settings = settings or Settings()
    door = local_front_door(settings, token, webhook_url)
    events_url = f"{api_url.rstrip('/')}/events"
    client = httpx.AsyncClient(timeout=10)

    async def front(request: Request) -> Response:
        limit = settings.max_document_bytes
        declared = int(request.headers.get("content-length") or 0)
        if declared > limit:
            return _too_large(f"message is {declared:,} bytes, over the limit of {limit:,}")
        buffer = bytearray()  # appending to bytes would copy the whole body per chunk
        async for chunk in request.stream():
            buffer.extend(chunk)
            if len(buffer) > limit:
                return _too_large(f"message is over the limit of {limit:,} bytes")
        reply = await run_in_threadpool(door.handle, request.method, request.url.path, bytes(buffer))
        return _send(reply)

    async def webhook(request: Request) -> Response:
        if webhook_key and not hmac.compare_digest(
            request.headers.get("authorization", "").encode(), f"Bearer {webhook_key}".encode()
        ):
            return Response(status_code=401)
        try:
            event = render_webhook(await request.body(), dict(request.headers))
        except Exception:  # like Cloud: a body the template cannot turn into an event is a 400
            return Response(status_code=400)
        try:
            response = await client.post(events_url, json=[event])
        except httpx.HTTPError:
            return Response(status_code=503)
        return Response(status_code=204 if response.status_code < 300 else 503)

    async def health(_: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/health", health),
            Route(WEBHOOK_PATH, webhook, methods=["POST"]),
            Route("/{token:path}", front, methods=["GET", "POST", "PUT"]),
        ]
    )


def _send(reply: Reply) -> Response:
    return Response(reply.body, status_code=reply.status, headers=reply.headers)


def _too_large(detail: str) -> Response:
    return _send(fault(413, detail))
