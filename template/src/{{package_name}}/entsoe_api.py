"""The ENTSO-E REST API through entsoe-py: one rate limit, one retry policy, failures sorted.

entsoe-py builds the queries; our reader parses the answers. Every request, from every run
(push enrichment, poll, backfill chunks), first takes a slot of the Prefect global
concurrency limit named by `settings.api_rate_limit` (a rate limit: slots decay), so all
runs together stay under the platform's 400 requests per minute per token.

The retry policy lives here, in `fetch`, and nowhere else:
- 5xx, time-outs, dropped connections: retried `api_retries` times with exponential back-off;
- 429: the token is over the limit and banned for a while (what the API asks in Retry-After,
  else `api_ban_s`); the ban is recorded for every process (api_ban.py), and this one like
  all others waits it out before it sends again, because a request during a ban extends it;
- 401/403: the key is wrong; stop at once with a message that says so, never an empty result.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import entsoe.entsoe
import requests
from entsoe.entsoe import EntsoeRawClient
from entsoe.exceptions import NoMatchingDataError
from prefect.blocks.system import Secret
from prefect.concurrency._asyncio import ConcurrencySlotAcquisitionError  # what strict=True raises
from prefect.concurrency.sync import rate_limit
from prefect.logging import get_logger
from prefect.settings import get_current_settings

from .api_ban import record_ban, wait_out_ban
from .documents import AcknowledgementError, Document, read_document
from .settings import Settings, load_block


class ApiKeyRejected(RuntimeError):
    """ENTSO-E refused the security token: retrying cannot help."""


class TransientApiError(RuntimeError):
    """Rate limit, server error, time-out: worth a retry."""

    def __init__(self, message: str, wait_s: float | None = None) -> None:
        super().__init__(message)
        self.wait_s = wait_s  # how long the API asked us to wait (429 Retry-After), if it did


class RateLimitMissing(RuntimeError):
    """The shared rate limit is not on the Prefect server: no request goes out without it."""


class ApiQueryRefused(RuntimeError):
    """ENTSO-E understood the query and refused it (4xx, or an acknowledgement)."""


def load_api_key(settings: Settings) -> str:
    try:
        return load_block(Secret, settings.entsoe_api_key_block, "PIPELINE_ENTSOE_API_KEY_BLOCK").get()
    except ValueError as exc:  # settings.MissingBlock among them
        raise ApiKeyRejected(
            f"no ENTSO-E API key: create the Prefect Secret block {settings.entsoe_api_key_block!r} "
            f"holding your security token ({exc})"
        ) from None


def make_client(settings: Settings, api_key: str) -> EntsoeRawClient:
    # entsoe-py reads its endpoint from a module global; point it where the settings say.
    entsoe.entsoe.URL = settings.entsoe_api_url
    return EntsoeRawClient(api_key=api_key, retry_count=1, retry_delay=0, timeout=settings.entsoe_timeout_s)  # pyright: ignore[reportArgumentType]  # entsoe-py says int; requests takes float


@dataclass(frozen=True)
class Fetched:
    document: Document
    raw: bytes


def fetch(query: Callable[[], str], settings: Settings, what: str) -> Fetched | None:
    """Run one query under the shared rate limit, with the retry policy; None when there is no data."""
    for attempt in range(settings.api_retries + 1):
        try:
            return _fetch_once(query, settings, what)
        except TransientApiError as exc:
            if attempt == settings.api_retries:
                raise
            delay = retry_delay(exc, attempt, settings)
            get_logger("entsoe_api").warning("%s; retrying in %.1f s", exc, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")  # the loop returns or raises


def retry_delay(exc: TransientApiError, attempt: int, settings: Settings) -> float:
    """The retry policy: a ban is waited out (before the next request: `wait_out_ban`), anything
    else backs off exponentially with jitter."""
    if exc.wait_s is not None:
        return 0.0
    return settings.api_retry_delay_s * 2**attempt * random.uniform(1.0, 1.2)


RATE_LIMIT_ATTEMPTS = 5  # asking the Prefect server for a slot: 1, 2, 4, 8 s apart (x1-1.5)
RATE_LIMIT_RETRY_S = 1.0


def take_rate_limit_slot(settings: Settings) -> None:
    """Blocks until the shared ENTSO-E rate limit allows one more request.

    Strict: without a limit of that name on the Prefect server (the deploy creates it, the
    local environment too) no request goes out, because every process sending at its own
    pace is how a shared token gets banned. Without a Prefect API at all there is nothing
    to share the limit with, and asking would start a throw-away local server per process:
    the request goes through. `api_rate_limit=""` switches the limit off.
    """
    if not (settings.api_rate_limit and get_current_settings().api.url):
        return
    for attempt in range(RATE_LIMIT_ATTEMPTS):
        try:
            rate_limit(settings.api_rate_limit, occupy=1, strict=True)
            return
        except ConcurrencySlotAcquisitionError as error:
            # Prefect raises this for a missing limit (no cause) and for a failed request to
            # its server (`from` the HTTP or connection error: prefect/concurrency/_asyncio.py,
            # aacquire_concurrency_slots). Only the first is the fail-closed stop; the second
            # is a busy server, asked again with backing off.
            if error.__cause__ is None:
                raise RateLimitMissing(
                    f"no rate limit {settings.api_rate_limit!r} on the Prefect server, so no request to ENTSO-E: "
                    "create it (deploy/prefect_cloud.py setup, or operations.ensure_rate_limit)"
                ) from None
            if attempt == RATE_LIMIT_ATTEMPTS - 1:
                raise
            time.sleep(RATE_LIMIT_RETRY_S * 2**attempt * random.uniform(1.0, 1.5))


def _fetch_once(query: Callable[[], str], settings: Settings, what: str) -> Fetched | None:
    take_rate_limit_slot(settings)
    wait_out_ban(settings)  # after the slot, which may take a while: a ban may have begun meanwhile
    try:
        text = query()
    except NoMatchingDataError:
        return None
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else 0
        if status in (401, 403):
            raise ApiKeyRejected(
                f"ENTSO-E API rejected the API key (HTTP {status}) while fetching {what}: check that the "
                f"Prefect Secret block {settings.entsoe_api_key_block!r} holds a valid security token"
            ) from None
        if status == 429:
            wait_s = _retry_after(exc.response, settings.api_ban_s)
            record_ban(settings, wait_s, what)
            raise TransientApiError(
                f"ENTSO-E API answered HTTP 429 (rate limit, token banned) while fetching {what}: "
                f"waiting {wait_s:.0f} s for the ban to end",
                wait_s=wait_s,
            ) from None
        if status >= 500:
            raise TransientApiError(f"ENTSO-E API answered HTTP {status} while fetching {what}") from None
        raise ApiQueryRefused(f"ENTSO-E API refused the query for {what} (HTTP {status}): {_reason(exc)}") from None
    except (requests.Timeout, requests.ConnectionError) as exc:
        raise TransientApiError(f"ENTSO-E API unreachable while fetching {what}: {exc}") from None
    raw = text.encode("utf-8") if isinstance(text, str) else text
    try:
        return Fetched(read_document(raw, settings.max_document_bytes), raw)
    except AcknowledgementError as ack:
        if "No matching data" in ack.text:
            return None
        raise ApiQueryRefused(f"ENTSO-E API refused the query for {what}: {ack}") from None


def _retry_after(response: requests.Response | None, ban_s: float) -> float:
    """Seconds from a Retry-After header (delta-seconds form), else the platform's ban length."""
    value = response.headers.get("Retry-After", "") if response is not None else ""
    try:
        return max(float(value), 0.0)
    except ValueError:
        return ban_s


def _reason(exc: requests.HTTPError) -> str:
    if exc.response is None:
        return str(exc)
    try:
        read_document(exc.response.content)
    except AcknowledgementError as ack:
        return ack.text
    except Exception:
        pass
    return (exc.response.text or "")[:200]
