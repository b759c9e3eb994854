"""Message templates (every kind and channel, translatable) and the text-message backends:
the log backend, and the Twilio backend against a loopback HTTP server that records what it
was sent."""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

from portal.app import TEMPLATES_DIR
from portal.notifications.senders import TwilioSmsSender, sms_sender
from portal.settings import SettingsError, SmsSettings
from reviewer.notifications.delivery import DeliveryFailed, LogSmsSender
from reviewer.notifications.messages import Channel, Kind, environment, render

LINK = "https://portal.example/login"


@pytest.mark.parametrize("kind", list(Kind))
def test_every_kind_says_only_the_organization_and_the_link(kind: Kind) -> None:
    env = environment(TEMPLATES_DIR)
    email = render(env, kind, Channel.EMAIL, organization="Sunny Smiles", link=LINK)
    assert "Sunny Smiles" in email.subject and "\n" not in email.subject
    assert "Sunny Smiles" in email.body and LINK in email.body
    sms = render(env, kind, "sms", organization="Sunny Smiles", link=LINK)
    assert sms.subject == "" and "Sunny Smiles" in sms.body and LINK in sms.body
    assert len(sms.body) <= 160 + len(LINK)  # about one text segment besides the link


class Spanishish:
    """A stand-in catalog: proves the text goes through gettext (the Spanish catalogs plug in
    the same way)."""

    def gettext(self, message: str) -> str:
        return message.replace("Sign in to read it", "Inicia sesión para leerlo")

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.gettext(singular if n == 1 else plural)


def test_messages_are_translated_through_the_catalog_given() -> None:
    env = environment(TEMPLATES_DIR)
    message = render(env, Kind.ADVICE_READY, Channel.EMAIL, organization="Sunny Smiles",
                     link=LINK, translations=Spanishish())
    assert "Inicia sesión para leerlo" in message.body
    assert "Sunny Smiles" in message.body  # placeholders are filled in after translation
    plain = render(env, Kind.ADVICE_READY, Channel.EMAIL, organization="Sunny Smiles", link=LINK)
    assert "Sign in to read it" in plain.body


async def test_the_log_backend_masks_the_number(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("toothline.notifications")
    logger.addHandler(caplog.handler)  # "toothline" does not propagate to the root logger
    try:
        with caplog.at_level(logging.INFO, logger="toothline.notifications"):
            await LogSmsSender().send_sms("+15551234567", "Sunny Smiles: sign in")
    finally:
        logger.removeHandler(caplog.handler)
    assert "Sunny Smiles: sign in" in caplog.text and "…67" in caplog.text
    assert "5551234567" not in caplog.text


class _Recorder(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []
    answer: tuple[int, dict[str, Any]] = (201, {"sid": "SM1", "status": "queued"})

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        self.requests.append({"path": self.path, "auth": self.headers.get("authorization"),
                              "type": self.headers.get("content-type"),
                              "form": parse_qs(self.rfile.read(length).decode())})
        status, body = self.answer
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def twilio() -> Iterator[tuple[str, type[_Recorder]]]:
    class Handler(_Recorder):
        requests: list[dict[str, Any]] = []

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", Handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _settings(url: str) -> SmsSettings:
    return SmsSettings(backend="twilio", sms_from="+15550001111", twilio_account_sid="AC123",
                       twilio_auth_token="secret-token", twilio_api_url=url)


async def test_the_twilio_backend_posts_the_messages_api_form(
    twilio: tuple[str, type[_Recorder]],
) -> None:
    url, handler = twilio
    sender = sms_sender(_settings(url))
    assert isinstance(sender, TwilioSmsSender)
    await sender.send_sms("+15551234567", "Sunny Smiles: a message is waiting")
    [request] = handler.requests
    assert request["path"] == "/2010-04-01/Accounts/AC123/Messages.json"
    assert request["auth"] == "Basic " + base64.b64encode(b"AC123:secret-token").decode()
    assert request["type"].startswith("application/x-www-form-urlencoded")
    assert request["form"] == {"To": ["+15551234567"], "From": ["+15550001111"],
                               "Body": ["Sunny Smiles: a message is waiting"]}


async def test_a_refusal_is_stored_as_its_status_and_code_only(
    twilio: tuple[str, type[_Recorder]],
) -> None:
    url, handler = twilio
    handler.answer = (400, {"code": 21211, "message": "The 'To' number +15551234567 is not valid"})
    with pytest.raises(DeliveryFailed) as refused:
        await TwilioSmsSender(_settings(url)).send_sms("+15551234567", "hello")
    assert refused.value.reason == "sms: http 400 code 21211"


async def test_an_unreachable_provider_is_a_delivery_failure() -> None:
    with pytest.raises(DeliveryFailed) as failed:
        await TwilioSmsSender(_settings("http://127.0.0.1:9")).send_sms("+15551234567", "hi")
    assert failed.value.reason.startswith("sms: ")


def test_sms_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(sms_sender(SmsSettings.from_env()), LogSmsSender)  # the default
    monkeypatch.setenv("TOOTHLINE_SMS_BACKEND", "twilio")
    with pytest.raises(SettingsError, match="TOOTHLINE_SMS_FROM"):
        SmsSettings.from_env()
    monkeypatch.setenv("TOOTHLINE_SMS_BACKEND", "carrier-pigeon")
    with pytest.raises(SettingsError, match="SMS_BACKEND"):
        SmsSettings.from_env()
