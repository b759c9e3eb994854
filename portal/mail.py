"""Sending email: over SMTP (``TOOTHLINE_SMTP_URL``, with aiosmtplib), or, when no server is
configured, into ``var/outbox/`` as .eml files so a developer can read what would have gone.

Messages carry no PHI: they say that something waits at the portal and link to it. Callers
send after their transaction has committed (a background task of the response), so a slow
or failing mail server never holds up or undoes the action that caused the message.
"""

from __future__ import annotations

import logging
import os
import secrets
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from portal.settings import MailSettings

log = logging.getLogger("toothline.mail")

SMTP_TIMEOUT_S = 15


def compose(settings: MailSettings, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{secrets.token_hex(16)}@toothline>"
    message["Date"] = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
    message.set_content(body)
    return message


def _write_outbox(var_dir: Path, message: EmailMessage) -> Path:
    outbox = var_dir / "outbox"
    outbox.mkdir(mode=0o700, parents=True, exist_ok=True)
    name = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}.eml"
    path = outbox / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(bytes(message))
    return path


class MailNotSent(Exception):
    """The server refused the message or could not be reached; ``reason`` is the error's type
    (no address, no content)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def send(settings: MailSettings, var_dir: Path, message: EmailMessage) -> bool:
    """Deliver one message; ``False`` (logged, never raised) when the server refused it or
    could not be reached. The log names the purpose and the error's type, never the address
    or the content (the JSON log formatter prints the message, not ``extra`` fields)."""
    try:
        await deliver(settings, var_dir, message)
    except MailNotSent:
        return False
    return True


async def deliver(settings: MailSettings, var_dir: Path, message: EmailMessage) -> None:
    """As :func:`send`, but a failure raises :class:`MailNotSent` (notifications store it)."""
    purpose = str(message.get("X-Toothline-Purpose", "mail"))
    if not settings.smtp_url:
        path = _write_outbox(var_dir, message)
        log.info("mail (%s) written to the outbox as %s", purpose, path.name)
        return
    url = urlsplit(settings.smtp_url)
    query = parse_qs(url.query)
    implicit_tls = url.scheme == "smtps"
    username = unquote(url.username) if url.username else None
    password = unquote(url.password) if url.password else None
    starttls_off = query.get("starttls", [""])[0].lower() in {"0", "false", "no", "off"}
    if implicit_tls or starttls_off:
        start_tls: bool | None = False
    else:
        # Opportunistic without credentials; required before a password is sent.
        start_tls = True if password else None
    try:
        await aiosmtplib.send(
            message,
            hostname=url.hostname,
            port=url.port or (465 if implicit_tls else 587),
            username=username,
            password=password,
            use_tls=implicit_tls,
            start_tls=start_tls,
            timeout=SMTP_TIMEOUT_S,
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        log.warning("mail (%s) not sent: %s", purpose, type(exc).__name__)
        raise MailNotSent(type(exc).__name__) from exc
    log.info("mail (%s) sent", purpose)
