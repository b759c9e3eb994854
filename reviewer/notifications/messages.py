"""What a notification says: Jinja templates under ``templates/notifications/``, one per kind
and channel, written with ``{% trans %}`` blocks so a catalog can translate them.

The context is deliberately poor: the organization's name and a sign-in link, nothing else.
A template cannot leak a patient's name, a finding or the advice because it never receives
them; ``tests/integration/notifications`` checks the mail that arrives against the case's
real names and advice.
"""

from __future__ import annotations

import gettext
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final, Protocol

import jinja2

from storage.models import Patient, User


class Kind(StrEnum):
    ADVICE_READY = "advice_ready"
    INFO_REQUESTED = "info_requested"
    RECORDS_READY = "records_ready"
    REFERRAL_REMINDER = "referral_reminder"
    RESULTS_READY = "results_ready"
    """A school screening letter is ready: the link opens it (no sign-in)."""


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    NONE = "none"


CHOICES: Final = tuple(Channel)
"""What a person may choose on their account page."""


class Translations(Protocol):
    """What ``jinja2.ext.i18n`` needs (``gettext.NullTranslations``, Babel's catalogs)."""

    def gettext(self, message: str) -> str: ...

    def ngettext(self, singular: str, plural: str, n: int) -> str: ...


@dataclass(frozen=True)
class Message:
    subject: str
    """Empty for a text message."""
    body: str


def recipient_language(user: User | None, patient: Patient | None) -> str:
    """The language a recipient reads: the login's choice, else the patient's (a guardian
    without a login: the roster's language), else English (docs/i18n.md)."""
    for chosen in (user.preferred_language if user else None,
                   patient.preferred_language if patient else None):
        if chosen:
            return chosen
    return "en"


def environment(templates_dir: Path) -> jinja2.Environment:
    """Plain text, so no HTML escaping; undefined names fail instead of printing nothing."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir),
        extensions=["jinja2.ext.i18n"],
        autoescape=False,  # noqa: S701 - plain-text email and SMS, never HTML
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    return env


def render(
    env: jinja2.Environment,
    kind: Kind | str,
    channel: Channel | str,
    *,
    organization: str,
    link: str,
    translations: Translations | None = None,
) -> Message:
    """The subject (email only) and body of one message, in ``translations``' language."""
    env.install_gettext_translations(  # type: ignore[attr-defined]
        translations or gettext.NullTranslations(), newstyle=True
    )
    context = {"organization": organization, "link": link, "kind": str(kind)}
    name = f"notifications/{Kind(kind).value}"
    if Channel(channel) == Channel.SMS:
        body = env.get_template(f"{name}.sms.txt").render(context)
        return Message("", " ".join(body.split()))
    subject = env.get_template(f"{name}.subject.txt").render(context)
    body = env.get_template(f"{name}.email.txt").render(context)
    return Message(" ".join(subject.split()), body)
