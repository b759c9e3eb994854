"""How a notification leaves the building, behind two small interfaces.

``reviewer`` speaks no HTTP and reads no settings, so the portal hands in the real senders
once, when it builds the app (:func:`configure`, like the audit key): SMTP through
``portal/mail.py``, text messages through the backend ``TOOTHLINE_SMS_BACKEND`` names
(``portal/notifications/sms.py``). Without a configuration (the CLI, service tests) queued
notifications stay queued and the next portal's sweep sends them.

A sender raises :class:`DeliveryFailed` with a short reason that names the kind of failure,
never the address or the text: the reason is stored on the row and shown to staff.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import jinja2

from reviewer.notifications.messages import Translations

log = logging.getLogger("toothline.notifications")


class DeliveryFailed(Exception):
    """The server refused the message or could not be reached; ``reason`` holds no PHI."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason[:200]


class MailSender(Protocol):
    async def send_email(self, to: str, subject: str, body: str) -> None:
        """Deliver one plain-text email or raise :class:`DeliveryFailed`."""


class SmsSender(Protocol):
    async def send_sms(self, to: str, body: str) -> None:
        """Deliver one text message or raise :class:`DeliveryFailed`."""


def masked(address: str) -> str:
    """What a log may say about an address: its last two characters."""
    return "…" + address[-2:] if len(address) > 4 else "…"


class LogSmsSender:
    """The development backend (``TOOTHLINE_SMS_BACKEND=log``, the default): the text goes to
    the log, the number masked. Messages carry no PHI, so the body may be logged."""

    async def send_sms(self, to: str, body: str) -> None:
        log.info("text message to %s (log backend): %s", masked(to), body)


@dataclass(frozen=True)
class Delivery:
    mail: MailSender
    sms: SmsSender
    public_url: str
    """The portal's own address, for the sign-in link (``TOOTHLINE_PUBLIC_URL``)."""
    templates: jinja2.Environment
    translations: dict[str, Translations] | None = None
    """Catalogs by language; a missing language reads English."""
    link_secret: bytes = b""
    """Derives the results letter links' tokens (``reviewer.screening.letter_links``); empty:
    those mails cannot be written and are skipped."""


_configured: list[Delivery] = []


def configure(delivery: Delivery) -> None:
    """Process-wide, set by ``portal.app.create_app`` (the newest app wins, as for the audit
    key: one portal per process)."""
    _configured[:] = [delivery]


def configured() -> Delivery | None:
    return _configured[0] if _configured else None
