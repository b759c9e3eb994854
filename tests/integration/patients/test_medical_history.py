"""The medical history (issue 17): the API on the patient and on POST /api/v1/cases, the
form, the dentist's case page, and the D9996 record that prints it with its date."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.billing.facts import load_case_facts
from reviewer.clock import local_date
from reviewer.documents.package import build_claim_package
from reviewer.patients.history import HistoryEntry, HistoryInput, update_history
from storage.blobs import BlobStore
from storage.models import AuditEvent, Case, Organization, Patient
from tests.integration.accounts.helpers import (
    Client,
    add_other_organization,
    demo_ids,
    post_form,
)
from tests.integration.billing.conftest import blobs, demo_db, seed_post_op
from tests.integration.billing.test_documents import assert_has, text_of
from tests.integration.intake.conftest import accept_consent, headers, new_case
from tests.integration.review.conftest import World, world
from tests.support.portal import sign_in

__all__ = ["blobs", "demo_db", "world"]  # fixtures, by name

PENICILLIN = {"name": "Penicillin", "note": "hives"}


async def put_history(client: Client, patient_id: Any, **body: Any) -> Any:
    return await client.put(f"/api/v1/patients/{patient_id}/history", json=body,
                            headers=await headers(client))


async def test_patient_sets_history_and_every_change_is_audited(
    client: Client, database_url: str, db: AsyncSession
) -> None:
    ids = await demo_ids(database_url)
    await sign_in(client, "patient@demo.test")
    saved = await put_history(
        client, ids["patient"], allergies=[PENICILLIN],
        medications=[{"name": "Ibuprofen", "note": "400 mg when needed"}],
        conditions=[{"name": "Asthma"}],
    )
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["allergies"] == [PENICILLIN]
    assert body["medications"] == [{"name": "Ibuprofen", "note": "400 mg when needed"}]
    assert body["conditions"] == [{"name": "Asthma", "note": None}]
    assert body["no_known_allergies"] is False  # listing an allergy answers the question
    assert body["history_updated_by_id"] == str(ids["patient@demo.test"])
    assert body["history_updated_at"]
    read = (await client.get(f"/api/v1/patients/{ids['patient']}")).json()
    assert read["allergies"] == [PENICILLIN]

    # a field left out stays; the same answer again changes nothing (no second event)
    again = await put_history(client, ids["patient"], conditions=[{"name": "Asthma"}])
    assert again.json()["allergies"] == [PENICILLIN]
    events = list(await db.scalars(select(AuditEvent).where(
        AuditEvent.action == "patient.history_changed",
        AuditEvent.subject_id == str(ids["patient"]))))
    assert len(events) == 1
    assert events[0].actor_id == ids["patient@demo.test"]
    assert sorted(events[0].details["fields"]) == [
        "allergies", "conditions", "medications", "no_known_allergies"]
    assert "Penicillin" not in repr(events[0].details)  # no PHI in the audit chain

    # "no known allergies" replaces the list only when the list is emptied too
    cleared = await put_history(client, ids["patient"], allergies=[], no_known_allergies=True)
    assert cleared.status_code == 200 and cleared.json()["no_known_allergies"] is True


async def test_bad_history_is_refused(client: Client, database_url: str) -> None:
    ids = await demo_ids(database_url)
    await sign_in(client, "patient@demo.test")
    pid = ids["patient"]
    for body in ({"allergies": [{"name": "x", "dose": 1}]}, {"allergies": [{"note": "x"}]},
                 {"allergies": "penicillin"}, {"history": []}, {"no_known_allergies": "yes"}):
        refused = await put_history(client, pid, **body)
        assert refused.status_code == 400, (body, refused.text)
    for body, code in (
        ({"allergies": [{"name": "  "}]}, "invalid_history_entry"),
        ({"medications": [{"name": "x" * 201}]}, "invalid_history_entry"),
        ({"conditions": [{"name": "x", "note": "n" * 501}]}, "invalid_history_entry"),
        ({"conditions": [{"name": f"c{i}"} for i in range(51)]}, "too_many_entries"),
        ({"allergies": [PENICILLIN], "no_known_allergies": True}, "no_known_allergies_conflict"),
    ):
        refused = await put_history(client, pid, **body)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["code"] == code
    assert (await client.get(f"/api/v1/patients/{pid}")).json()["history_updated_at"] is None


async def test_history_is_scoped_to_the_patients_reach(client: Client, database_url: str) -> None:
    other = await add_other_organization(database_url)
    ids = await demo_ids(database_url)
    await sign_in(client, "patient@demo.test")
    assert (await put_history(client, other["patient"], allergies=[PENICILLIN])).status_code == 404
    await sign_in(client, "hygienist@demo.test")  # the school's hygienist: not the clinic's
    assert (await put_history(client, ids["patient"], allergies=[PENICILLIN])).status_code == 404
    await sign_in(client, "dentist@demo.test")  # dentists read the history, they do not edit
    assert (await put_history(client, ids["patient"], allergies=[PENICILLIN])).status_code == 403
    await sign_in(client, "billing@demo.test")
    staff = await put_history(client, ids["patient"], allergies=[{"name": "Latex"}])
    assert staff.status_code == 200 and staff.json()["allergies"] == [
        {"name": "Latex", "note": None}]


async def test_intake_questionnaire_updates_the_history(
    client: Client, database_url: str, db: AsyncSession
) -> None:
    ids = await demo_ids(database_url)
    await sign_in(client, "patient@demo.test")
    assert (await accept_consent(client)).status_code == 201
    cases = select(func.count()).select_from(Case).where(Case.patient_id == ids["patient"])
    before = await db.scalar(cases)
    refused = await new_case(client, questionnaire={
        "history_changed": True, "allergies": [PENICILLIN], "no_known_allergies": True})
    assert refused.status_code == 422 and refused.json()["code"] == "no_known_allergies_conflict"
    assert await db.scalar(cases) == before  # the refused history took the case back too
    assert (await new_case(client, questionnaire={"allergies": [{"name": 3}]})).status_code == 400
    created = await new_case(client, questionnaire={
        "pain": 2, "history_changed": True, "allergies": [PENICILLIN],
        "medications": [{"name": "Amoxicillin"}]})
    assert created.status_code == 201, created.text
    case = await db.get_one(Case, created.json()["id"])
    assert case.questionnaire == {"pain": 2, "history_changed": True}
    patient = await db.get_one(Patient, ids["patient"])
    await db.refresh(patient)
    assert patient.allergies == [PENICILLIN]
    assert patient.medications == [{"name": "Amoxicillin", "note": None}]
    assert patient.history_updated_by_id == ids["patient@demo.test"]


async def test_history_form_and_the_staff_page(client: Client, database_url: str) -> None:
    ids = await demo_ids(database_url)
    await sign_in(client, "patient@demo.test")
    url = f"/patients/{ids['patient']}/history"
    assert (await client.get(url)).status_code == 200
    refused = await post_form(client, url, {"allergies": "Penicillin: hives",
                                            "no_known_allergies": "yes"})
    assert refused.status_code == 422 and "Penicillin: hives" in refused.text
    saved = await post_form(client, url, {"allergies": "Penicillin: hives\n\nLatex",
                                          "medications": "", "conditions": "Diabetes: type 2"})
    assert saved.status_code == 303 and saved.headers["location"] == url
    await sign_in(client, "billing@demo.test")
    detail = await client.get(f"/patients/{ids['patient']}")
    assert detail.status_code == 200
    for expected in ("Penicillin (hives)", "Latex", "Diabetes (type 2)", "Pat Demo (patient)",
                     f'href="{url}"'):
        assert expected in detail.text, expected


async def test_case_page_shows_the_allergy(client: Client, world: World) -> None:
    as_patient = replace(world.actor(world.patient_user), patient_ids=frozenset({world.patient.id}))
    await update_history(world.db, as_patient, world.patient.id,
                         HistoryInput(allergies=[HistoryEntry("Penicillin", "hives")],
                                      medications=[HistoryEntry("Metformin")]))
    case = await world.add_case(patient=world.patient, urgency="soon")
    await world.add_attachment(case, view="lower_occlusal")
    await sign_in(client, "dentist@demo.test")
    page = await client.get(f"/review/cases/{case.id}")
    assert page.status_code == 200
    assert 'class="flash flash-warning allergies"' in page.text
    assert "Penicillin (hives)" in page.text and "Metformin" in page.text


async def test_record_prints_the_allergy_and_its_date(demo_db: AsyncSession, blobs: BlobStore):
    seeded = await seed_post_op(demo_db, blobs)
    patient = await demo_db.get_one(Patient, seeded.patient_id)
    clinic = await demo_db.get_one(Organization, seeded.organization_id)
    assert patient.allergies == [PENICILLIN] and patient.history_updated_at
    day = local_date(patient.history_updated_at, clinic.time_zone).isoformat()
    case = await demo_db.get_one(Case, seeded.case_id)
    facts = await load_case_facts(demo_db, case, blobs=blobs)
    text = text_of(build_claim_package(facts.record, facts.profile,
                                       attachment_control_number="TLHIST").record_pdf)
    assert_has(text, f"Medical history (updated {day} by Pat Demo (patient))",
               "Allergies", "Penicillin (hives)", "Medications none listed")
    assert "Medical alerts" not in text
