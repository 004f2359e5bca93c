"""The event a push message becomes: one definition for the Cloud webhook and its local stand-in.

The front door (front_door.py) posts a small JSON object per landed document to the webhook:
`{"key", "document_type", "mrid", "revision", "area", "bytes"}`. The webhook renders
WEBHOOK_TEMPLATE with that object as `body` (Prefect Cloud parses a JSON body before it
renders; docs.prefect.io, "Webhooks", "How HTTP request components are handled") into the
event below; prefect.yaml's trigger matches its name and resource id (a test keeps them
equal) and passes the payload to process_message as `event_msg`.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from . import defaults

EVENT = "entsoe.document.received"
RESOURCE_ID = f"entsoe.push.{defaults.PROJECT_SLUG}"
RESOURCE_NAME = "ENTSO-E push subscription"
# The small event is the payload: the raw message stays in the lake, far below the event size
# limit (Prefect drops events over PREFECT_EVENTS_MAXIMUM_SIZE_BYTES after answering 204).
# `{% raw %}`-free on purpose: this file is copied verbatim into the rendered project.
WEBHOOK_TEMPLATE = json.dumps(
    {
        "event": EVENT,
        "resource": {"prefect.resource.id": RESOURCE_ID, "prefect.resource.name": RESOURCE_NAME},
        "payload": "BODY",
    }
).replace('"BODY"', "{{ body | tojson }}")


def render_webhook(body: str | bytes, headers: dict[str, str]) -> dict:
    """What Prefect Cloud does with a request to the webhook: the template rendered into an event.

    Like Cloud: a JSON body is parsed first, anything else stays text; the template is
    rendered in a sandbox with `body` and `headers`; the result must be one JSON object.
    """
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    text = body.decode("utf-8") if isinstance(body, bytes) else body
    content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    parsed = json.loads(text) if content_type.startswith("application/json") else text
    rendered = ImmutableSandboxedEnvironment().from_string(WEBHOOK_TEMPLATE).render(body=parsed, headers=headers)
    event = json.loads(rendered)
    return {"id": str(uuid.uuid4()), "occurred": datetime.now(UTC).isoformat(), **event}
