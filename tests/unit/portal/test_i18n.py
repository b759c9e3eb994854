"""Languages: the negotiation order, the catalogs' completeness (Babel's extractor over the
sources), and translations that never leak from one concurrent request to another."""

from __future__ import annotations

import uuid

import anyio
import pytest
from jinja2 import DictLoader, Environment

from portal.accounts.current_user import CurrentUser
from portal.i18n import (
    LanguageMiddleware,
    _accept_language,
    current_language,
    gettext,
    install,
    local_date,
    negotiate,
    ngettext,
)
from portal.i18n_catalog import check, extract, read


def _user(role: str = "patient", language: str | None = None) -> CurrentUser:
    return CurrentUser(id=uuid.uuid4(), email="p@example.test", role=role, display_name="P",
                       organizations=(), preferred_language=language)


def test_the_account_beats_the_cookie_which_beats_the_browser() -> None:
    assert negotiate(user=_user(language="es"), cookie="en", accept_language="en") == "es"
    assert negotiate(user=_user(language="en"), cookie="es", accept_language="es") == "en"
    assert negotiate(user=_user(), cookie="es", accept_language="en") == "es"
    assert negotiate(user=None, cookie="es", accept_language="en-US") == "es"
    assert negotiate(user=None, cookie=None, accept_language="es-MX,es;q=0.9") == "es"
    assert negotiate(user=None, cookie="", accept_language="fr-FR, es;q=0.5, en;q=0.4") == "es"
    assert negotiate(user=None, cookie=None, accept_language="en;q=0.5, es;q=0.8") == "es"


def test_anything_unsupported_is_english() -> None:
    assert negotiate(user=None, cookie=None, accept_language="") == "en"
    assert negotiate(user=None, cookie=None, accept_language=None) == "en"
    assert negotiate(user=None, cookie="fr", accept_language="de-DE,fr;q=0.8") == "en"
    assert negotiate(user=None, cookie="<script>", accept_language="es;q=0") == "en"
    assert negotiate(user=None, cookie=None, accept_language="es;q=abc, *") == "en"
    assert negotiate(user=_user(language="xx"), cookie=None, accept_language="zz") == "en"


def test_staff_pages_stay_english() -> None:
    assert negotiate(user=_user("dentist", "es"), cookie="es", accept_language="es") == "en"


def test_accept_language_is_read_by_weight() -> None:
    assert _accept_language("en;q=0.2, es-MX, fr;q=0.7") == ["es-MX", "fr", "en"]
    assert _accept_language(" , ;q=1, *") == []


def test_every_source_text_has_a_spanish_translation_and_nothing_is_stale() -> None:
    """Runs Babel's extractor over portal/, reviewer/ and templates/ (babel.cfg): every text
    has a non-empty, non-fuzzy Spanish msgstr, no entry is obsolete, messages.pot is
    current. Fix with ``scripts/i18n update``, then translate (docs/i18n.md)."""
    problems = check()
    assert not problems, "\n".join(map(str, problems))
    extracted = extract()
    assert len(extracted) > 200
    spanish = read("es")
    for message in extracted:
        if message.id:
            assert spanish.get(message.id) is not None, message.id


def test_placeholders_survive_translation() -> None:
    """A msgstr uses exactly the msgid's %(name)s placeholders (a typo would raise at
    render time on a Spanish page only)."""
    import re

    for message in read("es"):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(re.findall(r"%\(\w+\)s", ids[-1]))
        for string in strings:
            assert set(re.findall(r"%\(\w+\)s", string)) == wanted, message.id
            assert string.count("<") == ids[0].count("<"), message.id


def _render_app() -> Environment:
    env = Environment(autoescape=True, loader=DictLoader({
        "page.html": "<html lang=\"{{ current_language() }}\">{{ _('Sign in') }} "
                     "{% trans count=n %}{{ count }} photo{% pluralize %}{{ count }} photos"
                     "{% endtrans %}",
    }))
    install(env)
    return env


async def test_concurrent_requests_keep_their_own_language() -> None:
    """The Environment is shared: two requests rendering at once each get their language
    (a context variable per request, never translations installed globally)."""
    env = _render_app()
    seen: dict[str, str] = {}

    async def endpoint(scope: dict, receive: object, send: object) -> None:
        await anyio.sleep(0.01)  # the other request runs meanwhile
        seen[scope["path"]] = env.get_template("page.html").render(n=3)
        assert scope["language"] == current_language()

    app = LanguageMiddleware(endpoint)  # type: ignore[arg-type]

    def scope(path: str, accept: str) -> dict:
        return {"type": "http", "path": path, "headers": [(b"accept-language", accept.encode())]}

    async with anyio.create_task_group() as group:
        for index in range(10):
            language = "es" if index % 2 else "en"
            group.start_soon(app, scope(f"/{index}", language), None, None)
    for index in range(10):
        expected = ('<html lang="es">Iniciar sesión 3 fotos' if index % 2
                    else '<html lang="en">Sign in 3 photos')
        assert seen[f"/{index}"] == expected
    assert current_language() == "en"  # nothing left behind


def test_outside_a_request_texts_are_english() -> None:
    assert gettext("Sign in") == "Sign in"
    assert ngettext("%(count)s photo", "%(count)s photos", 1) == "%(count)s photo"


@pytest.mark.parametrize(("language", "text"), [("en", "Dec 4, 2026"), ("es", "4 dic 2026")])
async def test_dates_are_written_in_the_language(language: str, text: str) -> None:
    import datetime as dt

    async def endpoint(scope: dict, receive: object, send: object) -> None:
        assert local_date(dt.date(2026, 12, 4)) == text

    cookie = f"toothline_lang={language}".encode()
    await LanguageMiddleware(endpoint)(  # type: ignore[arg-type]
        {"type": "http", "headers": [(b"cookie", cookie)]}, None, None)  # type: ignore[arg-type]


async def test_the_browser_script_gets_its_texts_in_the_language() -> None:
    """static/js/app.js marks its texts with gettext("..."); a Spanish page hands their
    translations to it (an English page nothing: the script's own texts are English)."""
    from portal.i18n import js_texts, script_messages

    assert "Uploaded" in script_messages() and "Uploading… %(percent)s" in script_messages()
    got: dict[str, dict[str, str]] = {}

    async def endpoint(scope: dict, receive: object, send: object) -> None:
        got[scope["language"]] = js_texts()

    for language in ("en", "es"):
        cookie = f"toothline_lang={language}".encode()
        await LanguageMiddleware(endpoint)(  # type: ignore[arg-type]
            {"type": "http", "headers": [(b"cookie", cookie)]}, None, None)  # type: ignore[arg-type]
    assert got["en"] == {}
    assert got["es"]["Uploaded"] == "Subida"
    assert set(got["es"]) <= set(script_messages())


@pytest.mark.parametrize("language", ["en", "es"])
async def test_a_translated_variable_is_still_escaped(language: str) -> None:
    """``|translated`` (for messages held in variables) gives plain text that autoescape
    escapes; ``_()`` variables are escaped too. Only the template's own literal text is safe."""
    env = Environment(autoescape=True, loader=DictLoader({
        "page.html": "{{ message|translated }} {{ _('Refused: %(reason)s', reason=reason) }} "
                     "{% trans name=name %}Questions? Call {{ name }}.{% endtrans %}",
    }))
    install(env)
    html: list[str] = []

    async def endpoint(scope: dict, receive: object, send: object) -> None:
        html.append(env.get_template("page.html").render(
            message="<script>x()</script>", reason="<img src=x>", name="<b>Org</b>"))

    cookie = f"toothline_lang={language}".encode()
    await LanguageMiddleware(endpoint)(  # type: ignore[arg-type]
        {"type": "http", "headers": [(b"cookie", cookie)]}, None, None)  # type: ignore[arg-type]
    assert "<script>" not in html[0] and "&lt;script&gt;" in html[0]
    assert "<img" not in html[0] and "<b>" not in html[0] and "&lt;b&gt;Org" in html[0]
