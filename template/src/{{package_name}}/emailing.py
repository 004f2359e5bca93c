"""Send the newsletter over SMTP (prefect-email's credentials block), retried only when nothing went out.

The SMTP server comes from settings (your answers); a password, if the server needs one,
comes from a Prefect Secret block, never from a file.

Every attempt at one revision's newsletter carries the same Message-ID, derived from the
delivery key (ledger.delivery_id), so a message sent twice is recognisably one message. A
failure before the server took the message (no connection, login refused, sender,
recipients or data refused) is retried; a connection lost while the message was in flight
raises MaybeSent and is not retried: the server may have accepted it (see ledger.py).
"""

from __future__ import annotations

import hashlib
import smtplib
import time
from email.message import EmailMessage

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect_email import EmailServerCredentials, SMTPType
from pydantic import SecretStr

from .newsletter import Newsletter
from .settings import Settings, smtp_password

_SMTP_TYPES = {"ssl": SMTPType.SSL, "starttls": SMTPType.STARTTLS, "insecure": SMTPType.INSECURE}
_REFUSED = (smtplib.SMTPSenderRefused, smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError)


class MaybeSent(Exception):
    """The connection broke while the message was in flight: the server may have accepted it."""


def smtp_credentials(settings: Settings) -> EmailServerCredentials:
    password = smtp_password(settings)
    return EmailServerCredentials(
        smtp_server=settings.smtp_host,
        smtp_port=settings.smtp_port,
        smtp_type=_SMTP_TYPES[settings.smtp_security],
        username=settings.smtp_username or None,
        password=SecretStr(password),
    )


def message_id(delivery_id: str, sender: str) -> str:
    """A Message-ID that is a function of the delivery key alone (RFC 5322 msg-id form)."""
    domain = sender.rpartition("@")[2] or "localhost"
    return f"<{hashlib.sha256(delivery_id.encode()).hexdigest()[:40]}@{domain}>"


def nothing_sent(error: BaseException) -> bool:
    """True if send_newsletter failed before the server accepted anything (safe to send again)."""
    return isinstance(error, OSError)  # connection, login and refusals; MaybeSent is not an OSError


@task(name="send newsletter", cache_policy=NO_CACHE)
def send_newsletter(newsletter: Newsletter, settings: Settings, delivery_id: str) -> list[str]:
    """Sends one message to every recipient; raises (and so fails the run) once retries run out."""
    message = EmailMessage()
    message["Subject"] = newsletter.subject
    message["From"] = settings.email_sender
    message["To"] = ", ".join(settings.email_recipients)
    message["Message-ID"] = message_id(delivery_id, settings.email_sender)
    message["X-Newsletter-Delivery"] = delivery_id
    message.set_content(newsletter.text)
    message.add_alternative(newsletter.html, subtype="html")
    credentials = smtp_credentials(settings)
    for attempt in range(settings.smtp_retries + 1):
        try:
            _send_once(credentials, message)
            return settings.email_recipients
        except OSError as error:
            if attempt == settings.smtp_retries:
                raise
            delay = settings.smtp_retry_delay_s * 2**attempt
            get_run_logger().warning("Nothing sent (%r); trying again in %.1f s", error, delay)
            time.sleep(delay)
    raise AssertionError("the last attempt returns or raises")


def _send_once(credentials: EmailServerCredentials, message: EmailMessage) -> None:
    server = credentials.get_server()  # connect, TLS, login: a failure here sent nothing
    try:
        server.send_message(message)
    except _REFUSED:
        raise  # the server answered no: nothing was accepted
    except Exception as error:
        raise MaybeSent(f"the connection broke while sending {message['Message-ID']}: {error!r}") from error
    finally:
        try:
            server.quit()
        except (OSError, smtplib.SMTPException):
            server.close()
