"""The real senders behind ``reviewer.notifications.delivery``: email over SMTP
(``portal/mail.py``, ``TOOTHLINE_SMTP_URL``) and text messages by ``TOOTHLINE_SMS_BACKEND``:
``log`` (development) or ``twilio`` (Twilio's Messages API over HTTPS with httpx, which
litestar itself depends on).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Final

import httpx

from portal import mail
from portal.i18n import LANGUAGES, translations
from portal.settings import MailSettings, Settings, SmsSettings
from reviewer.notifications.delivery import (
    Delivery,
    DeliveryFailed,
    LogSmsSender,
    SmsSender,
)
from reviewer.notifications.messages import environment

SMS_TIMEOUT_S: Final = 15.0


class SmtpMailSender:
    def __init__(self, settings: MailSettings, var_dir: Path) -> None:
        self._settings, self._var_dir = settings, var_dir

    async def send_email(self, to: str, subject: str, body: str) -> None:
        message = mail.compose(self._settings, to, subject, body)
        message["X-Toothline-Purpose"] = "notification"
        try:
            await mail.deliver(self._settings, self._var_dir, message)
        except mail.MailNotSent as exc:
            raise DeliveryFailed(f"smtp: {exc.reason}") from exc


class TwilioSmsSender:
    """``POST {api}/2010-04-01/Accounts/{sid}/Messages.json`` with basic auth and the form
    fields To, From, Body. A refusal is stored as its HTTP status and Twilio's error code,
    never the number or the text."""

    def __init__(self, settings: SmsSettings) -> None:
        self._settings = settings

    async def send_sms(self, to: str, body: str) -> None:
        s = self._settings
        url = f"{s.twilio_api_url}/2010-04-01/Accounts/{s.twilio_account_sid}/Messages.json"
        try:
            async with httpx.AsyncClient(timeout=SMS_TIMEOUT_S) as client:
                response = await client.post(
                    url, data={"To": to, "From": s.sms_from, "Body": body},
                    auth=(s.twilio_account_sid, s.twilio_auth_token),
                )
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"sms: {type(exc).__name__}") from exc
        if response.status_code >= 300:
            code = ""
            with contextlib.suppress(ValueError, AttributeError):  # not Twilio's JSON
                code = str(response.json().get("code", ""))[:12]
            raise DeliveryFailed(f"sms: http {response.status_code}"
                                 + (f" code {code}" if code.isdigit() else ""))


def sms_sender(settings: SmsSettings) -> SmsSender:
    return TwilioSmsSender(settings) if settings.backend == "twilio" else LogSmsSender()


def delivery(settings: Settings, templates_dir: Path) -> Delivery:
    """What ``create_app`` hands to ``reviewer.notifications.delivery.configure``."""
    return Delivery(
        mail=SmtpMailSender(settings.mail, settings.var_dir),
        sms=sms_sender(settings.sms),
        public_url=settings.server.public_url,
        templates=environment(templates_dir),
        translations={code: translations(code) for code in LANGUAGES if code != "en"},
        link_secret=settings.session.secret_key.encode(),
    )
