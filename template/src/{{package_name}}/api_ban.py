"""One ENTSO-E ban for every process that sends with the token: recorded by the first to see it,
honoured by all before they send.

ENTSO-E answers 429 and bans a token for about 10 minutes once it is over 400 requests a
minute; a request during the ban gets 429 again. Each process waiting out only its own 429
would still send one request into the ban per running task and per new chunk, so the
process that gets the 429 writes when the ban ends where every process looks before each
request: a Prefect Variable when there is a Prefect API (Prefect Cloud in production, the
local server here), else a small file in the lake (a laptop run without Prefect, whose
processes share the lake folder). Its name follows the rate limit's, so projects that
share a token (and so a limit) share the ban too.

The clock is the wall clock (time.time), the one clock separate machines share.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import VariableCreate, VariableUpdate
from prefect.events import emit_event
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.logging import get_logger
from prefect.settings import get_current_settings

from . import defaults
from .lake import open_lake
from .settings import Settings

LAKE_KEY = "operations/entsoe_banned_until.json"


def ban_name(settings: Settings) -> str:
    """The Prefect Variable's name: the rate limit's (shared by projects on one token) and `-banned-until`."""
    limit = settings.api_rate_limit or f"{defaults.PROJECT_SLUG}-entsoe-api"
    return re.sub(r"[^a-z0-9_-]", "-", limit.lower())[:240] + "-banned-until"


def _uses_prefect(settings: Settings) -> bool:
    return bool(get_current_settings().api.url)


def banned_until(settings: Settings) -> float | None:
    """When the token's current or last ban ends (seconds since the epoch), or None if never banned."""
    if _uses_prefect(settings):
        with get_client(sync_client=True) as client:
            variable = client.read_variable_by_name(ban_name(settings))
        value = variable.value if variable is not None else None
    else:
        found = open_lake(settings).read(LAKE_KEY)
        value = json.loads(found[0])["until"] if found else None
    return datetime.fromisoformat(value).timestamp() if isinstance(value, str) else None


def record_ban(settings: Settings, seconds: float, what: str = "", clock: Callable[[], float] = time.time) -> float:
    """Records that the token is banned for `seconds` from now; returns when the ban ends.

    A later end than one already recorded wins; an earlier one never shortens it. With a
    Prefect API it also emits `<project>.entsoe-api.banned`, which the api-banned alert
    (automations.yaml) reports: a ban that repeats means the token is shared or the limit high.
    """
    until = clock() + seconds
    current = banned_until(settings)
    if current is not None and current >= until:
        return current
    stamp = datetime.fromtimestamp(until, UTC).isoformat()
    if _uses_prefect(settings):
        with get_client(sync_client=True) as client:
            try:
                client.create_variable(VariableCreate(name=ban_name(settings), value=stamp, tags=["entsoe-ban"]))
            except ObjectAlreadyExists:
                client.update_variable(VariableUpdate(name=ban_name(settings), value=stamp))
        emit_event(
            event=f"{defaults.PROJECT_SLUG}.entsoe-api.banned",
            resource={"prefect.resource.id": f"{defaults.PROJECT_SLUG}.entsoe-api"},
            payload={"until": stamp, "what": what, "variable": ban_name(settings)},
        )
    else:
        open_lake(settings).put(LAKE_KEY, json.dumps({"until": stamp}).encode())
    return until


def wait_out_ban(
    settings: Settings, clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep
) -> float:
    """Returns once no ban is recorded that has not ended; the seconds waited."""
    waited = 0.0
    while (until := banned_until(settings)) is not None and (left := until - clock()) > 0:
        get_logger("entsoe_api").warning(
            "ENTSO-E has banned the token until %s (recorded by the process that got the 429): waiting %.0f s",
            datetime.fromtimestamp(until, UTC).isoformat(timespec="seconds"),
            left,
        )
        sleep(left)
        waited += left
    return waited


def clear_ban(settings: Settings) -> None:
    """Forgets the recorded ban (a test's clean slate; an operator who knows the ban is lifted)."""
    if _uses_prefect(settings):
        with get_client(sync_client=True) as client:
            try:
                client.delete_variable_by_name(ban_name(settings))
            except ObjectNotFound:
                pass
    else:
        open_lake(settings).delete(LAKE_KEY)
