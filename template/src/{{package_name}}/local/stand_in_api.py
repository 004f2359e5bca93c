"""A local stand-in for the ENTSO-E REST API, serving the real documents in samples/.

It answers a query with the bundled document of the same type, process type and area (as
the real API does, whole documents, not trimmed to the hour), and otherwise with the real
"No matching data found" acknowledgement. It checks the security token (401 on a wrong one)
and can be told to fail the next requests (429, 503, a time-out) to test the retries.

Like the platform it can enforce a rate limit per token: over `limit` requests in any
`window_s` seconds, it answers 429 and bans the token for `ban_s` seconds (every request
during a ban is refused too; the real ban is about 10 minutes for 400 requests a minute).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from ..documents import AcknowledgementError, DocumentError, read_document
from .ports import free_port

DEMO_API_KEY = "local-demo-token"
_AREA_PARAMS = ("in_Domain", "outBiddingZone_Domain", "out_Domain", "biddingZone_Domain")
_UNAUTHORIZED = b"<html><body><h1>401 Unauthorized</h1></body></html>"


def samples_dir() -> Path:
    """samples/ of the rendered project (the package runs from its source tree)."""
    return Path(__file__).resolve().parents[3] / "samples"


def index_documents(folder: Path) -> dict[tuple[str, str, str], Path]:
    """(documentType, processType, area EIC) -> document file, for every readable document."""
    index: dict[tuple[str, str, str], Path] = {}
    for path in sorted([*folder.glob("documents/*.xml"), *folder.glob("constructed/*.xml")]):
        try:
            document = read_document(path.read_bytes())
        except (DocumentError, AcknowledgementError):
            continue
        index.setdefault((document.document_type, document.process_type, document.area), path)
    return index


@dataclass
class StandInApi:
    folder: Path
    api_key: str = DEMO_API_KEY
    port: int = 0
    stall_s: float = 5.0
    requests: list[dict[str, str]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0  # the most requests served at once, to check bounded concurrency
    limit: int = 0  # requests per window per token; 0: no limit
    window_s: float = 60.0
    ban_s: float = 600.0
    bans: int = 0  # how often a token was banned
    refused: int = 0  # requests answered 429 by the limit
    _recent: dict[str, deque[float]] = field(default_factory=dict)
    _banned_until: dict[str, float] = field(default_factory=dict)
    _ban_next_s: float = 0.0
    _faults: list[int | str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.index = index_documents(self.folder)
        self.no_data = (self.folder / "documents" / "ack_999_no_matching_data_apiguide_2016.xml").read_bytes()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def reset(self) -> None:
        """Forget what earlier requests did: the log, the faults, the peak, the limit and its bans."""
        with self._lock:
            self.requests.clear()
            self._faults.clear()
            self.max_in_flight = 0
            self.limit, self.window_s, self.ban_s = 0, 60.0, 600.0
            self.bans = self.refused = 0
            self._recent.clear()
            self._banned_until.clear()
            self._ban_next_s = 0.0

    def ban_next(self, ban_s: float) -> None:
        """The next request is over the limit: it gets 429 and bans its token for `ban_s` seconds."""
        with self._lock:
            self._ban_next_s = ban_s

    def enforce_limit(self, limit: int, window_s: float = 60.0, ban_s: float = 600.0) -> None:
        """From now on: over `limit` requests in `window_s` seconds bans the token for `ban_s` seconds."""
        with self._lock:
            self.limit, self.window_s, self.ban_s = limit, window_s, ban_s
            self._recent.clear()
            self._banned_until.clear()

    def _over_limit(self, token: str) -> float | None:
        """Seconds left of this token's ban (starting one if this request is over the limit), or None."""
        now = time.monotonic()
        banned_until = self._banned_until.get(token, 0.0)
        if now < banned_until:
            return banned_until - now
        if self._ban_next_s:
            self.bans += 1
            self._banned_until[token] = now + self._ban_next_s
            self._ban_next_s = 0.0
            return self._banned_until[token] - now
        if not self.limit:
            return None
        recent = self._recent.setdefault(token, deque())
        while recent and recent[0] <= now - self.window_s:
            recent.popleft()
        recent.append(now)
        if len(recent) > self.limit:
            self.bans += 1
            self._banned_until[token] = now + self.ban_s
            recent.clear()
            return self.ban_s
        return None

    def fail_next(self, *faults: int | str) -> None:
        """Queue failures for the next requests: HTTP status codes, "timeout" or "ack"."""
        with self._lock:
            self._faults.extend(faults)

    def answer(self, params: dict[str, str]) -> tuple[int, bytes, str, dict[str, str]]:
        with self._lock:
            self.requests.append(params)
            ban_left = self._over_limit(params.get("securityToken", ""))
            if ban_left is not None:
                self.refused += 1
        if ban_left is not None:
            body = b"<html><body>429 Too Many Requests: token banned</body></html>"
            return 429, body, "text/html", {"Retry-After": str(max(1, round(ban_left)))}
        status, body, content_type = self._answer(params)
        return status, body, content_type, {}

    def _answer(self, params: dict[str, str]) -> tuple[int, bytes, str]:
        with self._lock:
            fault = self._faults.pop(0) if self._faults else None
        if fault == "ack":  # a refusal the API sends as a 200 acknowledgement
            return 200, (self.folder / "documents" / "ack_999_bad_request_2023.xml").read_bytes(), "application/xml"
        if fault == "timeout":
            time.sleep(self.stall_s)
            return 504, b"", "text/plain"
        if isinstance(fault, int):
            return fault, f"<html><body>HTTP {fault}</body></html>".encode(), "text/html"
        if params.get("securityToken") != self.api_key:
            return 401, _UNAUTHORIZED, "text/html"
        area = next((params[p] for p in _AREA_PARAMS if p in params), "")
        key = (params.get("documentType", ""), params.get("processType", ""), area)
        path = self.index.get(key)
        if path is None:
            return 200, self.no_data, "application/xml"
        return 200, path.read_bytes(), "application/xml"


@contextlib.contextmanager
def stand_in_api(folder: Path | None = None, api_key: str = DEMO_API_KEY) -> Iterator[StandInApi]:
    """Serves the stand-in API on a free localhost port until the block ends."""
    api = StandInApi(folder=folder or samples_dir(), api_key=api_key, port=free_port())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = parse_qs(urlparse(self.path).query)
            params = {k: v[-1] for k, v in query.items()}
            with api._lock:
                api.in_flight += 1
                api.max_in_flight = max(api.max_in_flight, api.in_flight)
            try:
                status, body, content_type, headers = api.answer(params)
            finally:
                with api._lock:
                    api.in_flight -= 1
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args) -> None:  # keep test and demo output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", api.port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
