"""Issue 17 in billing: a bitewing is coded D0708 (not as a periapical), and the case's problem
status reaches each evaluation code (D0140 new, D0170 established, D0171 post-op check), in
the proposed lines and in the D9996 record's text; the dentist's correction is audited."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.billing.facts import load_case_facts
from reviewer.documents.package import build_claim_package
from reviewer.errors import DomainError
from reviewer.intake.problem import correct_problem
from storage.audit import AuditContext
from storage.blobs import BlobStore
from storage.models import AuditEvent, Case, Patient
from tests.integration.billing.conftest import (
    SIGNED_AT,
    SUBMITTED_AT,
    _attach,
    _bill,
    _sign,
    actor_for,
    org,
    seed_post_op,
    seed_school,
    user,
)
from tests.integration.billing.test_documents import assert_has, text_of

EVALUATIONS = {"D0140", "D0170", "D0171"}


async def _codes_and_text(db: AsyncSession, blobs: BlobStore, case: Case) -> tuple[list[str], str]:
    facts = await load_case_facts(db, case, blobs=blobs)
    built = build_claim_package(facts.record, facts.profile, attachment_control_number="TLTEST17")
    return [line.code for line in facts.record.lines], text_of(built.record_pdf)


async def _patient_case(
    db: AsyncSession, blobs: BlobStore, *, kind: str, problem: str | None, status: str,
    view: str = "periapical",
) -> Case:
    clinic = await org(db, "Demo Dental Clinic")
    patient = await db.scalar(select(Patient).where(Patient.email == "patient@demo.test"))
    assert patient is not None
    submitter = await user(db, "patient@demo.test")
    dentist = await user(db, "dentist@demo.test")
    case = Case(
        organization_id=clinic.id, patient_id=patient.id, kind=kind, status=status,
        urgency="routine", urgency_rank=2,
        questionnaire={"pain": 2, **({"problem": problem} if problem else {})}, problem=problem,
        location_state="CA", location_site="home", submitted_by_id=submitter.id,
        collected_on=dt.date(2026, 11, 20), submitted_at=SUBMITTED_AT,
        first_submitted_at=SUBMITTED_AT,
        claimed_by_id=dentist.id if status == "in_review" else None,
        lease_expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
    )
    db.add(case)
    await db.flush()
    await _attach(db, blobs, case, submitter, (("xray_8bit.jpg", "radiograph", view, "3"),),
                  dt.datetime(2026, 11, 20, 8, 0))
    return case


async def _signed(db: AsyncSession, blobs: BlobStore, case: Case) -> None:
    case.status, case.reviewed_at = "reviewed", SIGNED_AT - dt.timedelta(minutes=20)
    await _sign(db, case, await user(db, "dentist@demo.test"),
                findings="Tooth 3 looks as it did.", diagnosis="Known sensitivity, tooth 3.",
                advice="Carry on with the sensitive toothpaste.", procedures=[],
                follow_up_days=30)
    await _bill(db, blobs, case, package=False)


async def test_a_bitewing_is_coded_d0708_not_as_a_periapical(
    demo_db: AsyncSession, blobs: BlobStore
):
    seeded = await seed_school(demo_db, blobs, package=False)
    case = await demo_db.get_one(Case, seeded.case_id)
    codes, text = await _codes_and_text(demo_db, blobs, case)
    assert "D0708" in codes and "D0707" not in codes
    assert_has(text, "D0708", "view: bitewing")


@pytest.mark.parametrize(("problem", "code"), [("established", "D0170"), ("new", "D0140"),
                                               ("post_op_check", "D0171")])
async def test_the_problem_status_picks_the_evaluation_code(
    demo_db: AsyncSession, blobs: BlobStore, problem: str, code: str
):
    case = await _patient_case(demo_db, blobs, kind="question", problem=problem,
                               status="reviewed")
    await _signed(demo_db, blobs, case)
    codes, text = await _codes_and_text(demo_db, blobs, case)
    assert set(codes) & EVALUATIONS == {code}
    assert "D0391" in codes and "D0707" not in codes  # the patient's own X-ray: reading only
    assert_has(text, code)


async def test_a_post_op_case_yields_d0171(demo_db: AsyncSession, blobs: BlobStore):
    seeded = await seed_post_op(demo_db, blobs, package=False)
    case = await demo_db.get_one(Case, seeded.case_id)
    codes, text = await _codes_and_text(demo_db, blobs, case)
    assert set(codes) & EVALUATIONS == {"D0171"}
    assert_has(text, "D0171")


async def test_the_dentist_corrects_a_new_problem_to_a_re_evaluation(
    demo_db: AsyncSession, blobs: BlobStore
):
    case = await _patient_case(demo_db, blobs, kind="emergency", problem="new",
                               status="in_review")
    dentist = await actor_for(demo_db, "dentist@demo.test")
    ctx = AuditContext(actor_id=dentist.user_id, actor_role="dentist", client_address="127.0.0.1")
    await correct_problem(demo_db, dentist, ctx, case.id, "established",
                          now=dt.datetime.now(dt.UTC))
    assert case.problem == "established"
    assert case.questionnaire["problem"] == "new"  # the patient's own answer stays
    events = (await demo_db.scalars(
        select(AuditEvent).where(AuditEvent.action == "case.problem_corrected",
                                 AuditEvent.subject_id == str(case.id))
    )).all()
    assert [e.details for e in events] == [{"from": "new", "to": "established"}]
    await _signed(demo_db, blobs, case)
    codes, text = await _codes_and_text(demo_db, blobs, case)
    assert set(codes) & EVALUATIONS == {"D0170"}
    assert_has(text, "D0170")


async def test_only_the_holder_corrects_and_only_to_a_known_status(
    demo_db: AsyncSession, blobs: BlobStore
):
    case = await _patient_case(demo_db, blobs, kind="question", problem="new", status="in_review")
    dentist = await actor_for(demo_db, "dentist@demo.test")
    billing = await actor_for(demo_db, "billing@demo.test")
    ctx = AuditContext(actor_id=None, actor_role="test", client_address="127.0.0.1")
    now = dt.datetime.now(dt.UTC)
    with pytest.raises(DomainError) as wrong:
        await correct_problem(demo_db, dentist, ctx, case.id, "old", now=now)
    assert wrong.value.code == "invalid_problem"
    with pytest.raises(DomainError):
        await correct_problem(demo_db, billing, ctx, case.id, "established", now=now)
    case.status = "reviewed"
    await demo_db.flush()
    with pytest.raises(DomainError):  # signed: too late to change what the record says
        await correct_problem(demo_db, dentist, ctx, case.id, "established", now=now)
    assert case.problem == "new"
