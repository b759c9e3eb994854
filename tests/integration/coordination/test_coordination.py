"""Referrals followed to the report, the reminder query, the screening counts, coordination
activities (consent to share), and minutes adding up on the D9997/D9992 documentation."""

from __future__ import annotations

import datetime as dt

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from pypdf import PdfReader
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.coordination import services as coordination
from reviewer.coordination.services import NewActivity
from reviewer.errors import Conflict, Forbidden, NotFound
from reviewer.referrals import services as referrals
from storage.models import Consent, Patient, ScreeningEvent
from tests.integration.records.seeding import (
    CTX,
    actor_for,
    demo_patient,
    org,
    signed_case,
    user,
)
from tests.support.portal import csrf_token, sign_in

NOW = dt.datetime(2026, 11, 25, 18, 0, tzinfo=dt.UTC)


async def _login(client: AsyncTestClient[Litestar], email: str) -> None:
    await client.post("/logout", headers={"x-csrftoken": await csrf_token(client)})
    await sign_in(client, email)
    client.headers["x-csrftoken"] = await csrf_token(client)


async def test_referral_from_signed_evaluation_to_report(
    client: AsyncTestClient[Litestar], app_db: AsyncSession
):
    patient = await demo_patient(app_db)
    case = await signed_case(app_db, client.app.state.blobs, patient,
                             collected_on=dt.date(2026, 11, 1), files=())
    unsigned = await signed_case(app_db, client.app.state.blobs, patient,
                                 collected_on=dt.date(2026, 11, 2), files=(), sign=False)
    await _login(client, "dentist2@demo.test")  # not the signing dentist
    body = {"case_id": str(case.case_id), "to_provider": "Valley Oral Surgery"}
    assert (await client.post("/api/v1/referrals", json=body)).status_code == 404
    await _login(client, "dentist@demo.test")
    refused = await client.post("/api/v1/referrals",
                                json={**body, "case_id": str(unsigned.case_id)})
    assert refused.status_code == 404
    created = await client.post("/api/v1/referrals", json=body)
    assert created.status_code == 201, created.text
    ref = created.json()
    assert ref["status"] == "sent" and ref["specialty"] == "oral surgery"
    assert ref["reason"] == "bone spicule check"
    url = f"/api/v1/referrals/{ref['id']}"
    skip_back = await client.patch(url, json={"status": "bogus"})
    assert skip_back.status_code == 409
    for status in ("scheduled", "seen", "report_received"):
        moved = await client.patch(url, json={"status": status, "note": f"now {status}"})
        assert moved.status_code == 200 and moved.json()["status"] == status
    back = await client.patch(url, json={"status": "sent"})
    assert back.status_code == 409 and back.json()["code"] == "invalid_transition"
    await _login(client, "billing@demo.test")
    assert (await client.get(url)).json()["status"] == "report_received"
    assert (await client.patch(url, json={"status": "closed"})).status_code == 403
    await _login(client, "coordinator@demo.test")
    assert (await client.patch(url, json={"status": "closed"})).json()["status"] == "closed"
    home = await client.get("/coordination")
    assert home.status_code == 200 and 'id="referrals-open"' in home.text  # closed: not listed
    assert "Valley Oral Surgery" not in home.text
    page = await client.get(f"/coordination/patients/{patient.id}")
    assert page.status_code == 200 and "Valley Oral Surgery" in page.text


async def test_reminder_and_screening_counts(demo_db: AsyncSession, blobs):
    school = await org(demo_db, "Demo School Program")
    hygienist = await user(demo_db, "hygienist@demo.test")
    event = ScreeningEvent(organization_id=school.id, site="Lincoln", event_date=dt.date(
        2026, 11, 18), state="CA", hygienist_id=hygienist.id)
    demo_db.add(event)
    kids = [Patient(organization_id=school.id, first_name=f"Kid{i}", last_name="Nguyễn",
                    date_of_birth=dt.date(2017, 1, 1), student_id=f"S-{i}", state="CA")
            for i in range(3)]
    demo_db.add_all(kids)
    await demo_db.commit()
    cases = []
    for kid, urgency in zip(kids, ("urgent", "urgent", "none"), strict=True):
        cases.append(await signed_case(
            demo_db, blobs, kid, collected_on=event.event_date, files=(),
            kind="school_screening", sign=False,
            screening={"treatment_urgency": urgency, "event_id": str(event.id)},
            urgency="urgent" if urgency == "urgent" else "routine",
        ))
    for c in cases:
        from storage.models import Case

        row = await demo_db.get_one(Case, c.case_id)
        row.screening_event_id = event.id
    await demo_db.commit()
    coordinator = await actor_for(demo_db, "coordinator@demo.test")
    first = await referrals.create_referral(
        demo_db, coordinator, CTX, {"case_id": str(cases[0].case_id), "to_provider": "Dr. Lee",
                                    "reason": "abscess"}, now=NOW)
    await referrals.create_referral(
        demo_db, coordinator, CTX, {"case_id": str(cases[1].case_id), "to_provider": "Dr. Lee",
                                    "reason": "pain"}, now=NOW)
    with pytest.raises(Conflict):  # not urgent, not signed
        await referrals.create_referral(
            demo_db, coordinator, CTX, {"case_id": str(cases[2].case_id), "to_provider": "X",
                                        "reason": "check"}, now=NOW)
    await referrals.update_status(demo_db, coordinator, CTX, first.id, "seen",
                                  now=NOW + dt.timedelta(days=1))
    await referrals.update_status(demo_db, coordinator, CTX, first.id, "closed",
                                  now=NOW + dt.timedelta(days=2))
    # Urgent: no news for 3 days needs a reminder; the closed one never does.
    soon = await referrals.list_referrals(demo_db, coordinator, only_needing_news=True,
                                          now=NOW + dt.timedelta(days=3) - dt.timedelta(1))
    assert soon == []
    due = await referrals.list_referrals(demo_db, coordinator, only_needing_news=True,
                                         now=NOW + dt.timedelta(days=3))
    assert [r.reason for r in due] == ["pain"]
    hyg = await actor_for(demo_db, "hygienist@demo.test")
    summary = await referrals.screening_summary(demo_db, hyg, event.id)
    assert summary.as_dict() == {"event_id": str(event.id), "children_screened": 3,
                                 "urgent_children": 2, "referred": 2, "seen_by_dentist": 1}
    billing = await actor_for(demo_db, "billing@demo.test")
    with pytest.raises(Forbidden):
        await referrals.screening_summary(demo_db, billing, event.id)


async def test_coordination_minutes_add_up_on_documentation(
    client: AsyncTestClient[Litestar], app_db: AsyncSession
):
    patient = await demo_patient(app_db)
    url = f"/api/v1/patients/{patient.id}/coordination-activities"
    await _login(client, "coordinator@demo.test")
    share = {"kind": "care_coordination", "description": "Sent images to the oral surgeon",
             "counterpart": "provider", "minutes": 20, "necessity": "surgery planning",
             "performed_on": "2026-11-20"}
    refused = await client.post(url, json=share)
    assert refused.status_code == 409 and refused.json()["code"] == "consent_required"
    app_db.add(Consent(organization_id=patient.organization_id, patient_id=patient.id,
                       form="information_sharing", version=1, given_by="patient",
                       method="paper", accepted_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC)))
    await app_db.commit()
    activities = [
        share,
        {**share, "description": "Called the surgeon's office about the report",
         "minutes": 15},
        {"kind": "appointment_compliance", "barrier": "transport", "counterpart": "family",
         "description": "Arranged a ride to the appointment", "minutes": 10,
         "necessity": "no car", "outcome": "ride booked", "performed_on": "2026-11-21"},
        {"kind": "special_needs", "barrier": "special_needs", "counterpart": ["family"],
         "description": "Planned a sensory-friendly visit", "minutes": 30,
         "necessity": "autism", "performed_on": "2026-11-21"},
        {"kind": "special_needs", "barrier": "special_needs", "counterpart": ["physician"],
         "description": "Talked to the pediatrician about sedation", "minutes": 25,
         "necessity": "autism", "performed_on": "2026-11-22"},
    ]
    for body in activities:
        answer = await client.post(url, json=body)
        assert answer.status_code == 201, answer.text
    bad = await client.post(url, json={**share, "minutes": 0})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_minutes"
    lines = await client.get(f"/api/v1/patients/{patient.id}/coordination/claim-lines")
    report = lines.json()
    assert report["minutes_by_code"] == {"D9992": 35, "D9991": 10, "D9997": 55}
    assert report["total_minutes"] == 100
    codes = sorted((line["code"], line["date_of_service"]) for line in report["lines"])
    assert codes == [("D9991", "2026-11-21"), ("D9992", "2026-11-20"), ("D9997", "2026-11-21"),
                     ("D9997", "2026-11-22")]
    pdf = await client.get(f"/api/v1/patients/{patient.id}/coordination/documentation.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    import io

    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    for expected in ("D9992", "35", "D9997", "55", "Total", "100",
                     "Information-sharing consent", "Signatures of the performers",
                     "performed and documented by"):
        assert expected in text
    await _login(client, "billing@demo.test")
    assert (await client.post(url, json=share)).status_code == 403
    assert (await client.get(url)).status_code == 200
    await _login(client, "dentist2@demo.test")  # reviewed none of this patient's cases
    assert (await client.get(url)).status_code == 404


async def test_coordination_scope(demo_db: AsyncSession):
    from tests.integration.records.seeding import other_org_patient

    outsider = await other_org_patient(demo_db)
    coordinator = await actor_for(demo_db, "coordinator@demo.test")
    with pytest.raises(NotFound):
        await coordination.log_activity(
            demo_db, coordinator, CTX, outsider.id,
            NewActivity.from_dict({"kind": "health_literacy", "description": "x",
                                   "minutes": 5, "necessity": "y"}), now=NOW)


async def test_bodies_are_typed(client: AsyncTestClient[Litestar], app_db: AsyncSession):
    """Unknown keys and wrong JSON types answer 400 ``invalid``; values keep the services'
    codes; the period's days keep theirs, and an empty one means none."""
    patient = await demo_patient(app_db)
    case = await signed_case(app_db, client.app.state.blobs, patient,
                             collected_on=dt.date(2026, 11, 1), files=())
    await _login(client, "coordinator@demo.test")
    activities = f"/api/v1/patients/{patient.id}/coordination-activities"
    good = {"kind": "health_literacy", "description": "Explained brushing", "minutes": "15",
            "necessity": "new braces", "performed_on": "2026-11-20", "with_whom": ["patient"]}
    for wrong in ({**good, "colour": "blue"}, {**good, "minutes": "a while"},
                  {**good, "description": ["x"]}, {**good, "counterpart": 3}):
        refused = await client.post(activities, json=wrong)
        assert refused.status_code == 400 and refused.json()["code"] == "invalid", wrong
    for wrong, code in (({**good, "kind": "gossip"}, "invalid_kind"),
                        ({**good, "minutes": 0}, "invalid_minutes"),
                        ({**good, "performed_on": "soon"}, "invalid_performed_on"),
                        ({k: v for k, v in good.items() if k != "description"},
                         "description_required")):
        refused = await client.post(activities, json=wrong)
        assert refused.status_code == 400 and refused.json()["code"] == code, wrong
    logged = await client.post(activities, json=good)  # "15" is read as 15 minutes
    assert logged.status_code == 201 and logged.json()["minutes"] == 15, logged.text
    assert (await client.get(f"{activities}?start=&end=")).status_code == 200
    bad_day = await client.get(f"{activities}?start=yesterday")
    assert bad_day.status_code == 400 and bad_day.json()["code"] == "invalid_start"

    referral = {"case_id": str(case.case_id), "to_provider": "Valley Oral Surgery"}
    refused = await client.post("/api/v1/referrals", json={**referral, "priority": "high"})
    assert refused.status_code == 400 and refused.json()["code"] == "invalid"
    nobody = await client.post("/api/v1/referrals", json={"case_id": str(case.case_id)})
    assert nobody.status_code == 400 and nobody.json()["code"] == "to_provider_required"
    created = await client.post("/api/v1/referrals", json=referral)
    assert created.status_code == 201, created.text
    url = f"/api/v1/referrals/{created.json()['id']}"
    assert (await client.patch(url, json={"status": 1})).status_code == 400
    assert (await client.patch(url, json={"status": "seen", "notes": ""})).status_code == 400
    assert (await client.patch(url, json={"status": "seen"})).json()["status"] == "seen"

    await _login(client, "billing@demo.test")
    billed = f"/api/v1/patients/{patient.id}/coordination/billed"
    for wrong, code in (({"activity_ids": []}, "invalid_activity_ids"),
                        ({"activity_ids": ["x"]}, "invalid_activity_ids"),
                        ({"activity_ids": "x"}, "invalid"), ({"ids": []}, "invalid")):
        refused = await client.post(billed, json=wrong)
        assert refused.status_code == 400 and refused.json()["code"] == code, wrong
    done = await client.post(billed, json={"activity_ids": [logged.json()["id"]]})
    assert done.status_code == 200 and done.json() == {"billed": 1}

    schema = (await client.get("/schema/openapi.json")).json()
    parts = schema["components"]["schemas"]
    assert {"NewReferralIn", "ReferralStatusIn", "ActivityIn", "BilledIn"} <= set(parts)
    assert parts["ActivityIn"]["properties"]["minutes"]["oneOf"][0] == {"type": "integer"}


async def test_case_management_lines_on_the_billing_worklist(
    client: AsyncTestClient[Litestar], app_db: AsyncSession
):
    """Issue 16: D9992 lines with the performer's NPI; the dentist's own coordination time is
    its own line, not merged into the coordinator's; the worklist shows both."""
    patient = await demo_patient(app_db)
    await signed_case(app_db, client.app.state.blobs, patient, collected_on=dt.date(2026, 11, 19))
    app_db.add(Consent(organization_id=patient.organization_id, patient_id=patient.id,
                       form="information_sharing", version=1, given_by="patient",
                       method="paper", accepted_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC)))
    await app_db.commit()
    work = {"kind": "care_coordination", "counterpart": "provider", "minutes": 20,
            "necessity": "surgery planning", "performed_on": "2026-11-20"}
    coordinator = await actor_for(app_db, "coordinator@demo.test")
    dentist = await actor_for(app_db, "dentist@demo.test")
    await coordination.log_activity(app_db, coordinator, CTX, patient.id, NewActivity.from_dict(
        {**work, "description": "Sent images to the oral surgeon"}), now=NOW)
    await coordination.log_activity(app_db, dentist, CTX, patient.id, NewActivity.from_dict(
        {**work, "description": "Dentist discussed the findings with the surgeon",
         "minutes": 15}), now=NOW)
    await app_db.commit()
    await _login(client, "billing@demo.test")
    page = await client.get("/billing")
    assert page.status_code == 200
    section = page.text[page.text.index('id="case-management"'):]
    assert "Cora Coordinator" in section and "Dr. Dana Demo" in section
    assert section.count("D9992") >= 2 and "1326044579" in section  # the dentist's own NPI
    billing = await actor_for(app_db, "billing@demo.test")
    [row] = await coordination.unbilled_case_management(app_db, billing, CTX)
    assert sorted(line.provider.name for line in row.lines) == ["Cora Coordinator",
                                                                "Dr. Dana Demo"]
