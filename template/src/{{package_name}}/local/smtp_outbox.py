"""A local SMTP server (aiosmtpd) that saves every message it receives to a folder as .eml."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller

from .ports import free_port


@dataclass
class Received:
    path: Path
    sender: str
    recipients: list[str]
    message: EmailMessage
    at: float  # time.monotonic() when the message was accepted


@dataclass
class Outbox:
    folder: Path
    host: str = "127.0.0.1"
    port: int = 0
    received: list[Received] = field(default_factory=list)
    controller: Controller | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's handler hook
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}.eml"
            path.write_bytes(envelope.content)
            message = message_from_bytes(envelope.content, policy=policy.default)
            self.received.append(Received(path, envelope.mail_from, list(envelope.rcpt_tos), message, time.monotonic()))
        return "250 Message accepted for delivery"

    def start(self) -> None:
        """Listens on the outbox's port (again: tests take the server down and bring it back)."""
        self.controller = Controller(self, hostname=self.host, port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@contextlib.contextmanager
def local_smtp_server(folder: Path) -> Iterator[Outbox]:
    """Yields a running Outbox; messages land in `folder` as <time>-<id>.eml."""
    outbox = Outbox(folder=folder, port=free_port())
    outbox.start()
    try:
        yield outbox
    finally:
        outbox.stop()
