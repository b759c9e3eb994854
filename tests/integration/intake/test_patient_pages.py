"""The patient's pages: consent, the questionnaire (one draft per form), photos, submit, the
waiting status and, once signed, the dentist's advice (never the internal notes)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Case, Consent, Evaluation, Patient, User
from tests.integration.intake.conftest import PATIENT, Client, headers, upload, wait_ready
from tests.integration.intake.test_uploads import SMALL
from tests.support.portal import csrf_token, form_token, sign_in

CLINIC_PHONE = "+1 916 555 0100"


async def _post_form(client: Client, path: str, data: dict[str, str]):
    return await client.post(path, data=data, headers={"x-csrftoken": await csrf_token(client)},
                             follow_redirects=False)


async def _consent(client: Client) -> None:
    response = await _post_form(client, "/patient/consent", {"agree": "yes", "version": "2"})
    assert response.status_code == 303
    assert response.headers["location"] == "/patient/cases/new"


def _draft_key(html: str) -> str:
    match = re.search(r'name="draft_key" value="([^"]+)"', html)
    assert match
    return match.group(1)


async def test_first_visit_asks_for_consent_then_opens_the_questionnaire(
    client: Client, db: AsyncSession
):
    await sign_in(client, PATIENT)
    home = await client.get("/patient")
    assert home.status_code == 200
    assert 'href="/patient/consent"' in home.text
    assert (await client.get("/patient/cases/new", follow_redirects=False)).headers[
        "location"] == "/patient/consent"

    page = await client.get("/patient/consent")
    assert "Consent to teledentistry" in page.text and "live consultation" in page.text
    form_token(page.text)  # a plain form with the CSRF field
    refused = await _post_form(client, "/patient/consent", {"version": "2"})
    assert refused.status_code == 303 and refused.headers["location"] == "/patient/consent"
    await _consent(client)
    consent = await db.scalar(select(Consent))
    assert consent is not None and consent.method == "portal"
    await _consent(client)  # a second tap is harmless
    assert len((await db.scalars(select(Consent))).all()) == 1

    new = await client.get("/patient/cases/new")
    assert new.status_code == 200
    for text in ("A check after a procedure", "Something hurts or is swollen", "A question",
                 'name="pain"', 'name="fever"', 'name="difficulty_breathing"',
                 'name="procedure_date"', 'name="notes"', 'name="area"'):
        assert text in new.text


async def test_emergency_answers_show_the_call_message_at_once(client: Client):
    await sign_in(client, PATIENT)
    await _consent(client)
    calm = await _post_form(client, "/patient/cases/emergency-check", {"pain": "3"})
    assert calm.status_code == 200
    assert 'id="emergency-alert"' in calm.text and 'role="alert"' not in calm.text
    alarm = await _post_form(client, "/patient/cases/emergency-check",
                             {"fever": "yes", "swelling": "yes"})
    assert 'role="alert"' in alarm.text
    assert CLINIC_PHONE in alarm.text and "911" in alarm.text
    assert "<html" not in alarm.text


async def test_a_double_tap_makes_one_draft_and_changed_answers_update_it(
    client: Client, db: AsyncSession
):
    await sign_in(client, PATIENT)
    await _consent(client)
    key = _draft_key((await client.get("/patient/cases/new")).text)
    answers = {"draft_key": key, "kind": "emergency", "pain": "5", "area": "upper right"}
    first = await _post_form(client, "/patient/cases", answers)
    second = await _post_form(client, "/patient/cases", answers)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    changed = await _post_form(
        client, "/patient/cases", {**answers, "difficulty_swallowing": "yes"}
    )
    assert changed.headers["location"] == first.headers["location"]
    cases = (await db.scalars(select(Case))).all()
    assert len(cases) == 1
    await db.refresh(cases[0])
    assert cases[0].urgency == "urgent" and cases[0].questionnaire["difficulty_swallowing"]

    page = await client.get(first.headers["location"])
    assert 'role="alert"' in page.text and CLINIC_PHONE in page.text


async def test_a_wrong_answer_shows_the_form_again(client: Client, db: AsyncSession):
    await sign_in(client, PATIENT)
    await _consent(client)
    response = await _post_form(client, "/patient/cases",
                                {"draft_key": "k1", "kind": "post_op", "pain": "12"})
    assert response.status_code == 422
    assert "pain" in response.text and 'name="draft_key" value="k1"' in response.text
    assert await db.scalar(select(Case)) is None


async def test_photos_submit_waiting_and_then_the_advice(client: Client, db: AsyncSession):
    await sign_in(client, PATIENT)
    await _consent(client)
    key = _draft_key((await client.get("/patient/cases/new")).text)
    location = (await _post_form(client, "/patient/cases",
                                 {"draft_key": key, "kind": "post_op", "pain": "2"})
                ).headers["location"]
    case_id = uuid.UUID(location.rsplit("/", 1)[1])

    draft = await client.get(location)
    assert draft.status_code == 200
    assert draft.text.count('capture="environment"') == 6
    assert 'accept="image/*"' in draft.text
    assert f'data-upload-url="/patient/cases/{case_id}/attachments"' in draft.text
    assert 'data-field-view="upper_occlusal"' in draft.text and "Tilt your head back" in draft.text
    assert "data-upload-wait" in draft.text

    uploaded = await upload(client, f"/patient/cases/{case_id}/attachments", SMALL, "x.jpg",
                            view="anterior")
    assert uploaded.status_code == 201
    await wait_ready(client, case_id, [uploaded.json()["id"]])
    listed = await client.get(location)
    assert f"/api/v1/cases/{case_id}/attachments/{uploaded.json()['id']}/thumbnail" in listed.text

    sent = await _post_form(client, f"/patient/cases/{case_id}/submit", {})
    assert sent.status_code == 303
    again = await _post_form(client, f"/patient/cases/{case_id}/submit", {})
    assert again.status_code == 303
    waiting = await client.get(location)
    assert "Waiting for the dentist" in waiting.text
    assert "data-upload-url" not in waiting.text
    mine = await client.get("/patient")
    assert "Waiting for the dentist" in mine.text and f"/patient/cases/{case_id}" in mine.text

    dentist = await db.scalar(select(User).where(User.email == "dentist@demo.test"))
    case = await db.get(Case, case_id)
    assert dentist is not None and case is not None
    case.status = "reviewed"
    db.add(Evaluation(case_id=case_id, dentist_id=dentist.id, status="signed",
                      advice="Rinse gently with warm salt water.\nIt is healing well.",
                      internal_notes="INTERNAL-ONLY margin looks thin",
                      signed_at=datetime.now(UTC), follow_up_days=7))
    await db.commit()
    advised = await client.get(location)
    assert "The dentist's advice" in advised.text
    assert "Rinse gently with warm salt water." in advised.text
    assert "INTERNAL-ONLY" not in advised.text
    api = (await client.get(f"/api/v1/cases/{case_id}")).json()
    assert api["evaluation"]["advice"].startswith("Rinse gently")
    assert "INTERNAL-ONLY" not in str(api)


async def test_staff_cannot_open_the_patient_pages(client: Client):
    await sign_in(client, "dentist@demo.test")
    response = await client.get("/patient", headers={"accept": "text/html"})
    assert response.status_code == 403
    assert (await client.post("/patient/cases", data={}, headers=await headers(client))
            ).status_code == 403


async def test_a_patient_who_accepted_version_1_is_asked_again(client: Client, db: AsyncSession):
    """Version 2 of the teledentistry form adds the store-and-forward disclosure: a consent to
    version 1 no longer counts, and version 1 cannot be accepted any more."""
    patient = await db.scalar(select(Patient).where(Patient.email == PATIENT))
    assert patient is not None
    db.add(Consent(organization_id=patient.organization_id, patient_id=patient.id,
                   form="teledentistry", version=1, given_by="patient", given_by_name="Pat Demo",
                   method="portal", accepted_at=datetime(2026, 10, 1, tzinfo=UTC)))
    await db.commit()
    await sign_in(client, PATIENT)
    assert (await client.get("/patient/cases/new", follow_redirects=False)).headers[
        "location"] == "/patient/consent"
    page = await client.get("/patient/consent")
    assert "you may ask for a live consultation (video or in person) instead" in page.text
    stale = await client.post("/api/v1/consents", json={"form": "teledentistry", "version": 1},
                              headers={"x-csrftoken": await csrf_token(client)})
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    await _consent(client)
    versions = sorted((await db.scalars(select(Consent.version))).all())
    assert versions == [1, 2]
