"""Send the newsletter through prefect-email, retried, and failing the run in the end.

The SMTP server comes from settings (your answers); a password, if the server needs one,
comes from a Prefect Secret block, never from a file.
"""

from __future__ import annotations

from prefect.blocks.system import Secret
from prefect.utilities.asyncutils import run_coro_as_sync
from prefect_email import EmailServerCredentials, SMTPType, email_send_message
from pydantic import SecretStr

from .newsletter import Newsletter
from .settings import Settings, load_block

_SMTP_TYPES = {"ssl": SMTPType.SSL, "starttls": SMTPType.STARTTLS, "insecure": SMTPType.INSECURE}


def smtp_credentials(settings: Settings) -> EmailServerCredentials:
    password = load_block(Secret, settings.smtp_password_block).get() if settings.smtp_password_block else ""
    return EmailServerCredentials(
        smtp_server=settings.smtp_host,
        smtp_port=settings.smtp_port,
        smtp_type=_SMTP_TYPES[settings.smtp_security],
        username=settings.smtp_username or None,
        password=SecretStr(password),
    )


def send_newsletter(newsletter: Newsletter, settings: Settings) -> list[str]:
    """Sends one message to every recipient; raises (and so fails the run) once retries run out.

    prefect-email's task is async; it is awaited here so a failure is never left behind.
    """
    send = email_send_message.with_options(
        name="send newsletter",
        retries=settings.smtp_retries,
        retry_delay_seconds=[settings.smtp_retry_delay_s * 2**i for i in range(settings.smtp_retries)],
    )
    coroutine = send(
        subject=newsletter.subject,
        msg=newsletter.html,
        msg_plain=newsletter.text,
        email_server_credentials=smtp_credentials(settings),
        email_from=settings.email_sender,
        email_to=settings.email_recipients,
    )
    run_coro_as_sync(coroutine)
    return settings.email_recipients
