"""Languages of the patient-facing pages: which one a request gets, and its translations.

Patients and guardians read the portal in English or Spanish; staff pages stay English. The
catalogs are gettext ``.po`` files in ``portal/locale/<lang>/LC_MESSAGES/messages.po``, kept
in the repository and read once at start-up with Babel (``read_po`` → ``write_mo`` into
memory → :class:`babel.support.Translations`): no compiled ``.mo`` file, no build step.
``scripts/i18n`` extracts and updates them (docs/i18n.md).

The language of a request (:func:`negotiate`): the account's ``preferred_language``, else
the ``toothline_lang`` cookie the switcher sets, else the browser's ``Accept-Language``
(Babel's ``negotiate_locale``), else English. A staff login always gets English: its pages
are not translated, and a half-Spanish page is worse than an English one.

The Jinja environment is shared by concurrent requests, so the translations are never
installed into it per request: :class:`LanguageMiddleware` puts the request's language into a
context variable and the gettext callables installed once (:func:`install`) read it.
Python code marks a message for extraction with :func:`N_` (where the text is defined) and
translates it where it is shown with :func:`gettext` (``_``).
"""

from __future__ import annotations

import datetime as dt
import functools
import io
from contextvars import ContextVar
from pathlib import Path
from typing import Final

from babel import Locale, negotiate_locale
from babel.dates import format_date, format_datetime
from babel.messages.extract import extract
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from jinja2 import Environment
from litestar.datastructures import MutableScopeHeaders
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from portal.accounts.current_user import CurrentUser
from reviewer.clock import as_utc, zone
from reviewer.i18n import N_

__all__ = [
    "COOKIE",
    "DEFAULT",
    "LANGUAGES",
    "N_",
    "LanguageMiddleware",
    "current_language",
    "gettext",
    "install",
    "negotiate",
    "ngettext",
]

LOCALE_DIR: Final = Path(__file__).parent / "locale"
DOMAIN: Final = "messages"
DEFAULT: Final = "en"
LANGUAGES: Final = {"en": "English", "es": "Español"}
"""Supported languages, code → its own name (what the switcher shows)."""
COOKIE: Final = "toothline_lang"
"""The signed-out visitor's choice (a year; not a secret, not httponly-worthy data)."""
STAFF_LANGUAGE: Final = DEFAULT

_language: ContextVar[str] = ContextVar("toothline_language", default=DEFAULT)


def catalog_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(language: str) -> NullTranslations:
    """The language's catalog, compiled in memory once per process; English is the source
    text itself. A fuzzy entry is not used (Babel's ``write_mo`` leaves it out)."""
    if language == DEFAULT or language not in LANGUAGES:
        return NullTranslations()
    with catalog_path(language).open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


def current_language() -> str:
    return _language.get()


def gettext(message: str) -> str:
    """``message`` in the current request's language (unchanged when it has no entry)."""
    return translations(_language.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_language.get()).ngettext(singular, plural, n)


_ = gettext


def _accept_language(header: str) -> list[str]:
    """The header's language tags, best first (``q=0`` ones dropped)."""
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _sep, params = part.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*":
            continue
        q = 1.0
        for param in params.split(";"):
            name, _eq, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0:
            weighted.append((-q, index, tag))
    return [tag for _q, _i, tag in sorted(weighted)]


def supported(code: str | None) -> str | None:
    code = (code or "").strip().lower()
    return code if code in LANGUAGES else None


def negotiate(
    *, user: CurrentUser | None, cookie: str | None, accept_language: str | None
) -> str:
    """Account → cookie → Accept-Language → English; a staff login gets English."""
    if user is not None:
        if user.role != "patient":
            return STAFF_LANGUAGE
        chosen = supported(user.preferred_language)
        if chosen:
            return chosen
    chosen = supported(cookie)
    if chosen:
        return chosen
    found = negotiate_locale(_accept_language(accept_language or ""), list(LANGUAGES), sep="-")
    return supported(found) or DEFAULT


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def _cookie(scope: Scope, name: str) -> str | None:
    for part in _header(scope, b"cookie").split(";"):
        key, _eq, value = part.strip().partition("=")
        if key == name:
            return value
    return None


class LanguageMiddleware:
    """Sets the request's language (after :class:`AuthMiddleware`, which finds the account)
    in the context variable the templates' gettext reads, and in ``scope["language"]``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        user = scope.get("user")
        language = negotiate(
            user=user if isinstance(user, CurrentUser) else None,
            cookie=_cookie(scope, COOKIE),
            accept_language=_header(scope, b"accept-language"),
        )
        scope["language"] = language  # type: ignore[typeddict-unknown-key]
        staff = isinstance(user, CurrentUser) and user.role != "patient"  # always English

        async def send_varying(message: Message) -> None:
            # The same URL answers in another language for another cookie or browser: a
            # shared cache must keep them apart.
            if message["type"] == "http.response.start" and not staff:
                headers = MutableScopeHeaders.from_message(message)
                vary = headers.get("vary")
                headers["vary"] = f"{vary}, Accept-Language, Cookie" if vary else (
                    "Accept-Language, Cookie")
            await send(message)

        token = _language.set(language)
        try:
            await self.app(scope, receive, send_varying)
        finally:
            _language.reset(token)


def language_for_scope(scope: Scope) -> str:
    """The language of a request that no route (so no :class:`LanguageMiddleware`) saw, such
    as a 404: the cookie or the browser's; sets it for the rest of this task (its error
    page)."""
    if "language" in scope:
        return str(scope["language"])  # type: ignore[typeddict-item]
    language = negotiate(user=None, cookie=_cookie(scope, COOKIE),
                         accept_language=_header(scope, b"accept-language"))
    _language.set(language)
    return language


def local_date(value: dt.date | dt.datetime | None, fmt: str = "medium") -> str:
    """A date as the current language writes it (``Dec 4, 2026`` / ``4 dic 2026``)."""
    if value is None:
        return "—"
    return format_date(value, format=fmt, locale=Locale.parse(_language.get()))


def local_datetime(value: dt.datetime | None, time_zone: str = "UTC", fmt: str = "medium") -> str:
    """An instant in ``time_zone``, as the current language writes it."""
    if value is None:
        return "—"
    return format_datetime(
        as_utc(value), format=fmt, tzinfo=zone(time_zone), locale=Locale.parse(_language.get())
    )


SCRIPT: Final = Path(__file__).parent / "static" / "js" / "app.js"


@functools.cache
def script_messages() -> tuple[str, ...]:
    """The texts ``static/js/app.js`` marks with ``gettext("...")`` (Babel's extractor)."""
    with SCRIPT.open("rb") as script:
        found = list(extract("javascript", script, keywords={"gettext": None}))
    return tuple(dict.fromkeys(m for _line, m, _comments, _ctx in found if isinstance(m, str)))


def js_texts() -> dict[str, str]:
    """The browser script's translations for this request's language (empty in English):
    the base layout hands them to the script in ``<meta name="toothline-texts">``."""
    if _language.get() == DEFAULT:
        return {}
    found = {text: gettext(text) for text in script_messages()}
    return {text: translated for text, translated in found.items() if translated != text}


def install(env: Environment) -> None:
    """Once, at start-up: ``{% trans %}``, ``_()``, ``gettext()``, ``ngettext()`` in every
    template (newstyle: ``_("Hello %(name)s", name=x)`` escapes and formats), the request's
    language as ``current_language()``, and the date filters."""
    env.add_extension("jinja2.ext.i18n")
    env.policies["ext.i18n.trimmed"] = True  # as babel.cfg extracts them
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=gettext, ngettext=ngettext, newstyle=True
    )
    env.globals["current_language"] = current_language
    env.globals["LANGUAGES"] = LANGUAGES
    env.globals["js_texts"] = js_texts
    # A text held in a variable (a message, a label from code): ``{{ message|translated }}``,
    # never ``_(message)`` -- newstyle ``_()`` marks its result safe (it is meant for the
    # literal texts of the templates), so a variable that carries input would not be escaped.
    env.filters["translated"] = gettext
    env.filters["local_date"] = local_date
    env.filters["local_datetime"] = local_datetime
