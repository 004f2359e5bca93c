"""The ENTSO-E REST API through entsoe-py, with failures sorted into retry or stop.

entsoe-py builds the queries; our reader parses the answers. 429, 5xx, time-outs and
dropped connections are transient (the task retries them with back-off); 401/403 mean the
key is wrong and stop the run with a message that says so, never an empty result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import entsoe.entsoe
import requests
from entsoe.entsoe import EntsoeRawClient
from entsoe.exceptions import NoMatchingDataError
from prefect.blocks.system import Secret

from .documents import AcknowledgementError, Document, read_document
from .settings import Settings, load_block


class ApiKeyRejected(RuntimeError):
    """ENTSO-E refused the security token: retrying cannot help."""


class TransientApiError(RuntimeError):
    """Rate limit, server error, time-out: worth a retry."""


class ApiQueryRefused(RuntimeError):
    """ENTSO-E understood the query and refused it (4xx, or an acknowledgement)."""


def load_api_key(settings: Settings) -> str:
    try:
        return load_block(Secret, settings.entsoe_api_key_block).get()
    except ValueError as exc:
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
    """Run one query and read its answer; None when ENTSO-E has no matching data."""
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
        if status == 429 or status >= 500:
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
