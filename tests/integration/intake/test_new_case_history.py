"""The patient's new-case page asks for the medical history (allergies, medications,
conditions, "no known allergies"), filled in with what the patient told us before; what is
sent updates the patient's history (who and when) and a bad answer changes nothing."""

from __future__ import annotations

import html

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Case, Patient
from tests.integration.intake.conftest import PATIENT, Client
from tests.integration.intake.test_patient_pages import _consent, _draft_key, _post_form
from tests.support.portal import sign_in


async def _patient(db: AsyncSession, case: Case) -> Patient:
    patient = await db.get(Patient, case.patient_id)
    assert patient is not None
    await db.refresh(patient)
    return patient


async def test_the_new_case_page_saves_the_history_with_the_case(client: Client,
                                                                 db: AsyncSession):
    await sign_in(client, PATIENT)
    await _consent(client)
    page = await client.get("/patient/cases/new")
    for name in ("allergies", "medications", "conditions", "no_known_allergies",
                 "history_changed"):
        assert f'name="{name}"' in page.text
    response = await _post_form(client, "/patient/cases", {
        "draft_key": _draft_key(page.text), "kind": "post_op", "pain": "2",
        "history_form": "1", "history_changed": "yes",
        "allergies": "Penicillin: hives\n", "medications": "Ibuprofen 400 mg", "conditions": "",
    })
    assert response.status_code == 303
    case = await db.scalar(select(Case))
    assert case is not None and case.questionnaire["history_changed"] is True
    patient = await _patient(db, case)
    assert patient.allergies == [{"name": "Penicillin", "note": "hives"}]
    assert patient.medications == [{"name": "Ibuprofen 400 mg", "note": None}]
    assert patient.no_known_allergies is False
    assert patient.history_updated_at is not None
    assert "patient" in (patient.history_updated_by or "")

    again = await client.get("/patient/cases/new")  # the next case starts from what is known
    assert "Penicillin: hives" in html.unescape(again.text)


async def test_allergies_with_no_known_allergies_show_the_form_again(client: Client,
                                                                     db: AsyncSession):
    await sign_in(client, PATIENT)
    await _consent(client)
    page = await client.get("/patient/cases/new")
    response = await _post_form(client, "/patient/cases", {
        "draft_key": _draft_key(page.text), "kind": "post_op", "history_form": "1",
        "allergies": "Latex", "no_known_allergies": "yes",
    })
    assert response.status_code == 422
    assert "No known allergies" in response.text and "Latex" in response.text
    assert await db.scalar(select(Case)) is None
    assert all(not allergies for allergies in (await db.scalars(select(Patient.allergies))))


async def test_the_patient_home_links_to_the_history(client: Client, db: AsyncSession):
    await sign_in(client, PATIENT)
    home = await client.get("/patient")
    link = html.unescape(home.text).split('href="/patients/', 1)[1].split('"', 1)[0]
    assert link.endswith("/history")
    assert (await client.get(f"/patients/{link}")).status_code == 200
