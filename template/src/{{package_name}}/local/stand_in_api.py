"""A local stand-in for the ENTSO-E REST API, serving the real documents in samples/.

It answers a query with the bundled document of the same type, process type and area (as
the real API does, whole documents, not trimmed to the hour), and otherwise with the real
"No matching data found" acknowledgement. It checks the security token (401 on a wrong one)
and can be told to fail the next requests (429, 503, a time-out) to test the retries.
"""

from __future__ import annotations

import contextlib
import threading
import time
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
    _faults: list[int | str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.index = index_documents(self.folder)
        self.no_data = (self.folder / "documents" / "ack_999_no_matching_data_apiguide_2016.xml").read_bytes()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def reset(self) -> None:
        """Forget what earlier requests did: the log, the queued faults, the concurrency peak."""
        with self._lock:
            self.requests.clear()
            self._faults.clear()
            self.max_in_flight = 0

    def fail_next(self, *faults: int | str) -> None:
        """Queue failures for the next requests: HTTP status codes, "timeout" or "ack"."""
        with self._lock:
            self._faults.extend(faults)

    def answer(self, params: dict[str, str]) -> tuple[int, bytes, str]:
        with self._lock:
            self.requests.append(params)
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
                status, body, content_type = api.answer(params)
            finally:
                with api._lock:
                    api.in_flight -= 1
            self.send_response(status)
            self.send_header("Content-Type", content_type)
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
