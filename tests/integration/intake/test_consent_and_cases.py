"""Consents and cases through the JSON API: versions, idempotency, access, submission."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.consent_forms import FORMS
from storage.models import Case, Consent, Patient
from tests.integration.intake.conftest import (
    HYGIENIST,
    PATIENT,
    Client,
    accept_consent,
    audit_actions,
    headers,
    new_case,
)
from tests.support.portal import sign_in
from tests.support.views import view_actions


async def test_consent_forms_have_a_version_and_plain_text(client: Client):
    await sign_in(client, PATIENT)
    for name in ("teledentistry", "information_sharing", "records_release"):
        response = await client.get(f"/api/v1/consent-forms/{name}")
        assert response.status_code == 200
        body = response.json()
        assert body["form"] == name
        assert body["version"] == FORMS[name].version
        assert len(body["text"]) > 100
    teledentistry = (await client.get("/api/v1/consent-forms/teledentistry")).json()["text"]
    for point in ("later", "in person", "Who sees", "costs",
                  "you may ask for a live consultation (video or in person) instead"):
        assert point in teledentistry
    missing = await client.get("/api/v1/consent-forms/marketing")
    assert missing.status_code == 404
    assert missing.json()["code"] == "unknown_form"


async def test_consent_forms_need_a_signed_in_user(client: Client):
    response = await client.get("/api/v1/consent-forms/teledentistry")
    assert response.status_code == 401


async def test_accepting_twice_answers_409_and_records_who_when_where(
    client: Client, db: AsyncSession
):
    await sign_in(client, PATIENT)
    first = await accept_consent(client)
    assert first.status_code == 201, first.text
    again = await accept_consent(client)
    assert again.status_code == 409
    assert again.json()["code"] == "already_accepted"

    consent = await db.scalar(select(Consent))
    assert consent is not None
    assert (consent.form, consent.version, consent.method) == ("teledentistry", 2, "portal")
    assert consent.given_by == "patient"
    assert consent.given_by_name == "Pat Demo"
    assert consent.client_address
    assert consent.accepted_at is not None
    assert "consent.accepted" in await audit_actions(db)


async def test_an_old_version_is_refused(client: Client):
    await sign_in(client, PATIENT)
    response = await client.post(
        "/api/v1/consents", json={"form": "teledentistry", "version": 0},
        headers=await headers(client),
    )
    assert response.status_code == 409
    assert response.json()["code"] == "stale_version"


async def test_a_case_needs_a_current_consent(client: Client, db: AsyncSession):
    await sign_in(client, PATIENT)
    refused = await new_case(client)
    assert refused.status_code == 409
    assert refused.json()["code"] == "consent_required"
    assert await db.scalar(select(Case)) is None
    await accept_consent(client)
    assert (await new_case(client)).status_code == 201


async def test_patient_creates_a_case_with_defaults_and_reads_it(client: Client, db: AsyncSession):
    await sign_in(client, PATIENT)
    await accept_consent(client)
    response = await new_case(client, questionnaire={"pain": 3, "area": "lower left"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "draft"
    assert body["urgency"] == "routine"
    assert body["location"] == {"state": "CA", "site": "home"}
    assert body["questionnaire"] == {"pain": 3, "area": "lower left"}
    assert body["attachments"] == []

    read = await client.get(f"/api/v1/cases/{body['id']}")
    assert read.status_code == 200
    for key in ("id", "kind", "status", "urgency", "questionnaire", "location", "submitted_at",
                "attachments"):
        assert key in read.json()
    case = await db.get(Case, uuid.UUID(body["id"]))
    assert case is not None and case.urgency_rank == 2
    assert await view_actions(db, body["id"]) == ["case.viewed"]
    assert "case.viewed" not in await audit_actions(db)


async def test_emergency_answers_make_the_case_urgent(client: Client, db: AsyncSession):
    await sign_in(client, PATIENT)
    await accept_consent(client)
    response = await new_case(
        client, kind="emergency", questionnaire={"fever": True, "swelling": True, "pain": 6}
    )
    assert response.status_code == 201
    assert response.json()["urgency"] == "urgent"
    assert response.json()["emergency"] is True
    case = await db.get(Case, uuid.UUID(response.json()["id"]))
    assert case is not None and case.urgency_rank == 0
    soon = await new_case(client, questionnaire={"pain": 8})
    assert soon.json()["urgency"] == "soon"


async def test_idempotency_key_makes_one_case(client: Client, db: AsyncSession):
    await sign_in(client, PATIENT)
    await accept_consent(client)
    first = await new_case(client, key="draft-123", questionnaire={"pain": 2})
    again = await new_case(client, key="draft-123", questionnaire={"pain": 2})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    other = await new_case(client, key="draft-123", questionnaire={"pain": 9})
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_conflict"
    assert len((await db.scalars(select(Case))).all()) == 1


async def test_bad_bodies_answer_400(client: Client):
    await sign_in(client, PATIENT)
    await accept_consent(client)
    for body in (
        {"kind": "vacation"},
        {"kind": "post_op", "questionnaire": {"pain": 11}},
        {"kind": "post_op", "questionnaire": {"mood": "sad"}},
        {"kind": "post_op", "location": {"state": "California"}},
        {"kind": "post_op", "location": {"site": "beach"}},
        {"kind": "school_screening"},
    ):
        response = await client.post("/api/v1/cases", json=body, headers=await headers(client))
        assert response.status_code == 400, (body, response.text)
        assert set(response.json()) >= {"code", "message"}


async def test_staff_submit_for_a_patient_of_their_organization(client: Client, db: AsyncSession):
    await sign_in(client, "billing@demo.test")
    patient = await db.scalar(select(Patient).where(Patient.email == PATIENT))
    assert patient is not None
    missing = await new_case(client)
    assert missing.status_code == 400
    assert missing.json()["code"] == "patient_required"
    paper = await accept_consent(client, patient_id=str(patient.id), method="paper")
    assert paper.status_code == 201, paper.text
    response = await new_case(client, patient_id=str(patient.id), kind="question")
    assert response.status_code == 201, response.text
    assert response.json()["location"] == {"state": "CA", "site": "office"}
    consent = await db.scalar(select(Consent))
    assert consent is not None and consent.method == "paper"


async def test_a_hygienist_cannot_reach_a_patient_of_another_organization(
    client: Client, db: AsyncSession
):
    await sign_in(client, HYGIENIST)  # school program only; the demo patient is the clinic's
    patient = await db.scalar(select(Patient).where(Patient.email == PATIENT))
    assert patient is not None
    response = await accept_consent(client, patient_id=str(patient.id))
    assert response.status_code == 404
    response = await new_case(client, patient_id=str(patient.id))
    assert response.status_code == 404


async def test_dentists_and_admins_cannot_create_cases(client: Client):
    for email in ("dentist@demo.test", "admin@demo.test"):
        await sign_in(client, email)
        assert (await new_case(client)).status_code == 403
        await client.post("/logout", headers=await headers(client))


async def test_submit_is_idempotent_and_sets_the_due_time(client: Client, db: AsyncSession):
    await sign_in(client, PATIENT)
    await accept_consent(client)
    case_id = (await new_case(client, questionnaire={"difficulty_breathing": True})).json()["id"]
    first = await client.post(f"/api/v1/cases/{case_id}/submit", headers=await headers(client))
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "submitted"
    assert first.json()["submitted_at"]
    again = await client.post(f"/api/v1/cases/{case_id}/submit", headers=await headers(client))
    assert again.status_code == 200
    assert again.json()["submitted_at"] == first.json()["submitted_at"]
    case = await db.get(Case, uuid.UUID(case_id))
    assert case is not None and case.due_at is not None and case.submitted_at is not None
    assert (case.due_at - case.submitted_at).total_seconds() == 4 * 3600  # urgent target
    assert (await audit_actions(db)).count("case.submitted") == 1


async def test_other_people_get_404(client: Client):
    await sign_in(client, PATIENT)
    await accept_consent(client)
    case_id = (await new_case(client)).json()["id"]
    await client.post("/logout", headers=await headers(client))
    await sign_in(client, HYGIENIST)
    assert (await client.get(f"/api/v1/cases/{case_id}")).status_code == 404
    submit = await client.post(f"/api/v1/cases/{case_id}/submit", headers=await headers(client))
    assert submit.status_code == 404
    assert (await client.get(f"/api/v1/cases/{uuid.uuid4()}")).status_code == 404


async def test_admins_read_no_cases(client: Client):
    await sign_in(client, PATIENT)
    await accept_consent(client)
    case_id = (await new_case(client)).json()["id"]
    await client.post("/logout", headers=await headers(client))
    await sign_in(client, "admin@demo.test")
    assert (await client.get(f"/api/v1/cases/{case_id}")).status_code == 403
