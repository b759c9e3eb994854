"""A patient in Spanish on a phone: switch the language on the sign-in page, sign in, accept
the Spanish consent, answer the questionnaire, send a photo, and later read the signed advice
— every step in Spanish. The choice is the browser's cookie only (a fresh context), so the
demo patient's account and the other journeys stay English."""

from __future__ import annotations

import asyncio
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from storage.database import create_engine, create_session_maker
from storage.models import Case, Consent, Evaluation, User
from tests.e2e.conftest import BrowserLog, LiveServer, no_horizontal_scroll, shot
from tests.e2e.test_patient_intake import PATIENT, _withdraw_consents
from tests.support.fixtures import GOOD

pytestmark = pytest.mark.e2e


def _in_db(server: LiveServer, work):  # type: ignore[no-untyped-def]
    async def run():  # type: ignore[no-untyped-def]
        engine = create_engine(f"sqlite:///{server.var_dir}/toothline.db")
        try:
            async with create_session_maker(engine)() as db:
                result = await work(db)
                await db.commit()
                return result
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run()).result()


def _sign_advice(server: LiveServer, case_id: uuid.UUID) -> None:
    """The dentist's side, done directly: the case is reviewed and its advice signed."""

    async def work(db):  # type: ignore[no-untyped-def]
        dentist = await db.scalar(select(User).where(User.email == "dentist@demo.test"))
        case = await db.get(Case, case_id)
        case.status = "reviewed"
        db.add(Evaluation(case_id=case_id, dentist_id=dentist.id, status="signed",
                          advice="Enjuague suavemente con agua tibia con sal.\nSana bien.",
                          signed_at=datetime.now(UTC), follow_up_days=3))

    _in_db(server, work)


def _consent_language(server: LiveServer) -> list[str]:
    async def work(db):  # type: ignore[no-untyped-def]
        rows = await db.scalars(select(Consent).where(Consent.revoked_at.is_(None)))
        return [row.language for row in rows]

    return list(_in_db(server, work))


def test_a_patient_in_spanish_sends_a_photo_and_reads_the_advice(
    live_server: LiveServer, phone_page: Page, browser_log: BrowserLog
):
    page = phone_page
    _withdraw_consents(live_server)
    page.goto(f"{live_server.url}/login")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    with page.expect_navigation():
        page.locator("#language-switch").get_by_role("button", name="Español").click()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page).to_have_url(re.compile(r"/login$"))

    form = page.locator("#login-form")
    form.get_by_label("Correo electrónico").fill(PATIENT)
    form.get_by_label("Contraseña").fill(live_server.password)
    with page.expect_navigation():
        form.get_by_role("button", name="Iniciar sesión").click()
    page.goto(f"{live_server.url}/patient")
    expect(page.get_by_role("heading", name="Mis casos")).to_be_visible()
    page.get_by_role("link", name="Enviar fotos al dentista").click()

    expect(page).to_have_url(re.compile(r"/patient/consent"))
    expect(page.get_by_role("heading", name="Consentimiento para teleodontología")).to_be_visible()
    expect(page.locator("#consent-text")).to_contain_text("consulta en vivo")
    page.get_by_label(re.compile("acepto que un dentista revise mis fotos")).check()
    with page.expect_navigation():
        page.get_by_role("button", name="Acepto").click()
    expect(page).to_have_url(re.compile(r"/patient/cases/new$"))
    expect(page.locator("#flash")).to_contain_text("Ya puede enviar fotos al dentista")
    assert "es" in _consent_language(live_server)

    page.get_by_label("Un control después de un procedimiento").check()
    page.get_by_label(re.compile("Cuánto le duele")).select_option("2")
    page.get_by_label("¿Dónde es?").fill("abajo a la izquierda")
    no_horizontal_scroll(page)
    with page.expect_navigation():
        page.get_by_role("button", name="Siguiente: agregar fotos").click()
    expect(page.locator("#status-text")).to_have_text("Todavía no se envió")
    case_id = uuid.UUID(page.url.rsplit("/", 1)[1])

    page.set_input_files("#photo-anterior", str(GOOD / "phone_postop_upright.jpg"))
    item = page.locator("#view-anterior .upload-item")
    expect(item).to_have_class(re.compile(r"\bis-done\b"), timeout=30_000)
    expect(item.locator(".upload-status")).to_contain_text("Subida")  # the script's text too
    expect(item.get_by_role("button", name=re.compile("^Quitar"))).to_be_visible()
    shot(page, "phone-spanish-photos")
    with page.expect_navigation():
        page.get_by_role("button", name="Enviar al dentista").click()
    expect(page.locator("#status-text")).to_have_text("Esperando al dentista")
    expect(page.locator("#flash")).to_contain_text("Un dentista lo revisará pronto")

    _sign_advice(live_server, case_id)
    page.goto(f"{live_server.url}/patient")
    expect(page.locator("#main")).to_contain_text("El dentista ya respondió")
    page.goto(f"{live_server.url}/patient/cases/{case_id}")
    advice = page.locator("#advice")
    expect(advice.get_by_role("heading", name="El consejo del dentista")).to_be_visible()
    expect(advice).to_contain_text("Enjuague suavemente con agua tibia con sal.")
    expect(advice).to_contain_text("Vuelva a revisar en 3 días, por favor.")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    no_horizontal_scroll(page)
    shot(page, "phone-spanish-advice")
    browser_log.assert_clean()
