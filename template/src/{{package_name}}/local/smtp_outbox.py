"""A local SMTP server (aiosmtpd) that saves every message it receives to a folder as .eml.

Given a `login` it refuses mail from a client that has not logged in with it, as a
production server does (over plain SMTP: the tests have no certificate to offer).
"""

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
from aiosmtpd.smtp import AuthResult, LoginPassword

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
    login: tuple[str, str] | None = None  # (user, password) the server requires
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
        if self.login is None:
            self.controller = Controller(self, hostname=self.host, port=self.port)
        else:
            self.controller = Controller(
                self,
                hostname=self.host,
                port=self.port,
                authenticator=self._authenticate,
                auth_required=True,
                auth_require_tls=False,
            )
        self.controller.start()

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        """aiosmtpd's authenticator hook: the one login given, by any mechanism that sends a password."""
        given = (
            (auth_data.login.decode(), auth_data.password.decode()) if isinstance(auth_data, LoginPassword) else None
        )
        return AuthResult(success=given is not None and given == self.login)

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
