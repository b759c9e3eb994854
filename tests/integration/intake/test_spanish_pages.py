"""Every patient page in Spanish: no English text of the catalog left visible, the language
from the account, the cookie or the browser, the switcher signed out and signed in, and the
consent accepted in Spanish stored with its language."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from html.parser import HTMLParser

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.i18n_catalog import read
from storage.models import AuditEvent, Case, Consent, Evaluation, User
from tests.integration.intake.conftest import PATIENT, Client, accept_consent, upload, wait_ready
from tests.integration.intake.test_uploads import SMALL
from tests.support.portal import csrf_token, sign_in

ES = {"accept-language": "es-MX,es;q=0.9,en;q=0.5"}


class _Visible(HTMLParser):
    """The text a reader sees (and hears: aria-label, alt, placeholder, the title)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in ("aria-label", "alt", "placeholder", "title") and value:
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def _english_patterns() -> list[tuple[str, re.Pattern[str]]]:
    """Each source text whose Spanish differs, as a pattern of its visible words
    (placeholders match anything, tags are dropped)."""
    patterns = []
    for message in read("es"):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for msgid in ids:
            if msgid in strings:
                continue
            text = " ".join(re.sub(r"<[^>]+>", "", msgid).split())
            fragments = [f for f in re.split(r"%\(\w+\)[sd]", text) if f.strip()]
            if sum(len(f.strip()) for f in fragments) < 2:
                continue
            body = ".*?".join(re.escape(f.strip()) for f in fragments)
            patterns.append((msgid, re.compile(rf"(?<!\w){body}(?!\w)")))
    return patterns


def assert_spanish(html: str, where: str) -> None:
    assert '<html lang="es">' in html or "<html" not in html, where
    text = re.sub(r"\S+@\S+", "", visible_text(html))  # addresses are data, not text
    left = [msgid for msgid, pattern in _english_patterns() if pattern.search(text)]
    assert not left, f"{where}: English left on a Spanish page: {left}"


async def _post(client: Client, path: str, data: dict[str, str], **headers: str):
    return await client.post(path, data=data, follow_redirects=False,
                             headers={"x-csrftoken": await csrf_token(client), **headers})


async def test_every_patient_page_is_spanish(client: Client, db: AsyncSession) -> None:
    for path in ("/", "/login", "/forgot-password", "/no-such-page"):
        response = await client.get(path, headers=ES)
        assert_spanish(response.text, path)
    assert "Iniciar sesión" in (await client.get("/login", headers=ES)).text
    refused = await _post(client, "/login", {"email": PATIENT, "password": "wrong-password"},
                          **ES)
    assert refused.status_code == 401
    assert "El correo electrónico o la contraseña no son correctos." in refused.text
    assert_spanish(refused.text, "failed sign-in")
    sent = await _post(client, "/forgot-password", {"email": PATIENT}, **ES)
    assert_spanish(sent.text, "reset link sent")

    await sign_in(client, PATIENT)
    client.headers.update(ES)
    for path in ("/", "/patient", "/patient/consent", "/account", "/account/links",
                 "/patient/records", f"/patient/cases/{uuid.uuid4()}"):
        response = await client.get(path)
        assert_spanish(response.text, path)

    history = re.search(r'href="(/patients/[0-9a-f-]{36}/history)"',
                        (await client.get("/patient")).text)
    assert history
    assert_spanish((await client.get(history.group(1))).text, "medical history")
    saved = await _post(client, history.group(1), {"allergies": "Penicilina: ronchas"})
    assert saved.status_code == 303
    assert "Se guardó el historial médico." in (await client.get(history.group(1))).text

    consent_page = await client.get("/patient/consent")
    assert "Consentimiento para teleodontología" in consent_page.text
    assert 'name="language" value="es"' in consent_page.text
    accepted = await _post(client, "/patient/consent",
                           {"agree": "yes", "version": "2", "language": "es"})
    assert accepted.status_code == 303
    consent = await db.scalar(select(Consent))
    assert consent is not None and consent.language == "es" and consent.version == 2
    event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "consent.accepted"))
    assert event is not None and event.details["language"] == "es"

    new = await client.get("/patient/cases/new")
    assert_spanish(new.text, "new case")
    key = re.search(r'name="draft_key" value="([^"]+)"', new.text)
    assert key
    wrong = await _post(client, "/patient/cases",
                        {"draft_key": key.group(1), "kind": "post_op",
                         "procedure_date": "2999-01-01"})
    assert wrong.status_code == 422
    assert "La fecha del procedimiento no puede ser una fecha futura." in wrong.text
    assert_spanish(wrong.text, "new case refused")
    alarm = await _post(client, "/patient/cases/emergency-check",
                        {"fever": "yes", "swelling": "yes"})
    assert "Esto puede ser una urgencia" in alarm.text
    assert_spanish(alarm.text, "emergency alert")

    location = (await _post(client, "/patient/cases",
                            {"draft_key": key.group(1), "kind": "post_op", "pain": "2"})
                ).headers["location"]
    case_id = uuid.UUID(location.rsplit("/", 1)[1])
    draft = await client.get(location)
    assert "Dientes de enfrente" in draft.text
    assert '<meta name="toothline-texts"' in draft.text and "Subida" in draft.text
    assert_spanish(draft.text, "draft")
    uploaded = await upload(client, f"/patient/cases/{case_id}/attachments", SMALL, "x.jpg",
                            view="anterior")
    assert uploaded.status_code == 201
    await wait_ready(client, case_id, [uploaded.json()["id"]])
    assert_spanish((await client.get(location)).text, "draft with a photo")
    submitted = await _post(client, f"/patient/cases/{case_id}/submit", {})
    assert submitted.status_code == 303
    waiting = await client.get(location)
    assert "Enviado. Un dentista lo revisará pronto." in waiting.text  # the flash
    assert "Esperando al dentista" in waiting.text
    assert_spanish(waiting.text, "submitted")
    assert_spanish((await client.get("/patient")).text, "my cases with one case")

    dentist = await db.scalar(select(User).where(User.email == "dentist@demo.test"))
    case = await db.get(Case, case_id)
    assert dentist is not None and case is not None
    case.status = "reviewed"
    db.add(Evaluation(case_id=case_id, dentist_id=dentist.id, status="signed",
                      advice="Enjuague suavemente con agua tibia con sal.",
                      signed_at=datetime.now(UTC), follow_up_days=7))
    await db.commit()
    advised = await client.get(location)
    assert "El consejo del dentista" in advised.text
    assert "Vuelva a revisar en 7 días, por favor." in advised.text
    assert_spanish(advised.text, "advice")

    asked = await _post(client, "/patient/records",
                        {"records": "all", "format": "electronic"})
    assert asked.status_code == 303
    records = await client.get("/patient/records")
    assert "Se envió su solicitud." in records.text and "Recibida" in records.text
    assert_spanish(records.text, "records requests")


async def test_the_account_language_beats_the_cookie_and_the_browser(
    client: Client, db: AsyncSession
) -> None:
    await sign_in(client, PATIENT)
    assert '<html lang="en">' in (await client.get("/patient")).text
    chosen = await _post(client, "/language", {"language": "es", "next": "/patient"})
    assert chosen.status_code == 303 and chosen.headers["location"] == "/patient"
    user = await db.scalar(select(User).where(User.email == PATIENT))
    assert user is not None
    await db.refresh(user)
    assert user.preferred_language == "es"
    event = await db.scalar(
        select(AuditEvent).where(AuditEvent.action == "account.language_changed"))
    assert event is not None and event.details == {"language": "es"}
    # the account wins over an English cookie and an English browser
    client.cookies.set("toothline_lang", "en")
    page = await client.get("/patient", headers={"accept-language": "en"})
    assert '<html lang="es">' in page.text and "Mis casos" in page.text

    # the account page's choice, back to English
    back = await _post(client, "/language", {"language": "en", "next": "/account"})
    assert back.headers["location"] == "/account"
    await db.refresh(user)
    assert user.preferred_language == "en"
    assert "Your account" in (await client.get("/account", headers=ES)).text


async def test_the_switcher_signed_out(client: Client, db: AsyncSession) -> None:
    home = await client.get("/")
    assert 'action="/language"' in home.text and 'value="es"' in home.text
    chosen = await _post(client, "/language", {"language": "es", "next": "/login?next=/x"})
    assert chosen.status_code == 303 and chosen.headers["location"] == "/login?next=/x"
    assert "toothline_lang=es" in chosen.headers["set-cookie"]
    login = await client.get("/login")
    assert '<html lang="es">' in login.text
    assert "Accept-Language" in login.headers["vary"] and "Cookie" in login.headers["vary"]
    # then signing in takes the account's own (unset) preference: the cookie still decides
    await sign_in(client, PATIENT)
    assert "Mis casos" in (await client.get("/patient")).text
    user = await db.scalar(select(User).where(User.email == PATIENT))
    assert user is not None and user.preferred_language is None


async def test_the_switcher_refuses_bad_input(client: Client) -> None:
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x"):
        response = await _post(client, "/language", {"language": "es", "next": target})
        assert response.status_code == 303 and response.headers["location"] == "/", target
    unknown = await _post(client, "/language", {"language": "fr", "next": "/"})
    assert unknown.status_code == 400
    assert "toothline_lang" not in unknown.headers.get("set-cookie", "")
    no_token = await client.post("/language", data={"language": "es"}, follow_redirects=False)
    assert no_token.status_code == 403


async def test_staff_pages_stay_english(client: Client) -> None:
    await sign_in(client, "dentist@demo.test")
    page = await client.get("/review", headers=ES)
    assert '<html lang="en">' in page.text and 'action="/language"' not in page.text
    assert "Accept-Language" not in page.headers["vary"]
    assert 'id="account-language"' not in (await client.get("/account", headers=ES)).text


async def test_the_api_gives_and_takes_the_spanish_consent(
    client: Client, db: AsyncSession
) -> None:
    await sign_in(client, PATIENT)
    english = (await client.get("/api/v1/consent-forms/teledentistry")).json()
    spanish = (await client.get("/api/v1/consent-forms/teledentistry?language=es")).json()
    assert english["language"] == "en" and spanish["language"] == "es"
    assert spanish["languages"] == ["en", "es"] and spanish["version"] == english["version"]
    assert spanish["title"] == "Consentimiento para teleodontología"
    unknown = (await client.get("/api/v1/consent-forms/teledentistry?language=fr")).json()
    assert unknown["language"] == "en"

    refused = await accept_consent(client, language="fr")
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_language"
    accepted = await accept_consent(client, language="es")
    assert accepted.status_code == 201, accepted.text
    consent = await db.scalar(select(Consent))
    assert consent is not None and consent.language == "es"


async def test_choosing_a_password_in_spanish(client: Client, db: AsyncSession) -> None:
    """A reset link opened by a Spanish-speaking patient: the page, its refusals (two
    passwords that differ, a common one) and the sign-in page it leads to."""
    from reviewer.accounts.links import RESET, issue_link

    user = await db.scalar(select(User).where(User.email == PATIENT))
    assert user is not None
    link = await issue_link(db, user.id, RESET, created_by_id=None)
    await db.commit()
    client.headers.update(ES)
    path = f"/access/{link.token}"
    assert_spanish((await client.get(path)).text, "choose a password")
    differ = await _post(client, path, {"password": "correct horse battery",
                                        "password_confirm": "correct horse batteyr"})
    assert differ.status_code == 422 and "Las dos contraseñas no son iguales." in differ.text
    assert_spanish(differ.text, "passwords differ")
    weak = await _post(client, path, {"password": "password1234",
                                      "password_confirm": "password1234"})
    assert weak.status_code == 422
    assert "Esta contraseña es demasiado común; elija otra." in weak.text
    done = await _post(client, path, {"password": "correct horse battery",
                                      "password_confirm": "correct horse battery"})
    assert done.status_code == 303 and done.headers["location"] == "/login"
    signin = await client.get("/login")
    assert "Su contraseña quedó guardada." in signin.text
    assert_spanish(signin.text, "after the password is set")
