"""The event a push message becomes: one definition for the Cloud webhook and the local receiver.

prefect.yaml's trigger matches the same name and resource id (a test keeps them equal).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from . import defaults

EVENT = "entsoe.document.received"
RESOURCE_ID = f"entsoe.push.{defaults.PROJECT_SLUG}"
RESOURCE_NAME = "ENTSO-E push subscription"


def push_event(body: str) -> dict:
    """The event as Prefect Cloud's webhook template makes it: the raw body as the payload."""
    return {
        "id": str(uuid.uuid4()),
        "occurred": datetime.now(UTC).isoformat(),
        "event": EVENT,
        "resource": {"prefect.resource.id": RESOURCE_ID, "prefect.resource.name": RESOURCE_NAME},
        "payload": {"body": body},
    }
