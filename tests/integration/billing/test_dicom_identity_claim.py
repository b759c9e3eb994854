"""Issue 17, the right patient, in billing: a DICOM held for an identity mismatch is on no
claim (no radiograph code, not in the claim-attachment PDF) until a person confirms it; then
it is, and every image of the PDF carries the patient's name, birth date, capture date, view
and teeth."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.billing.facts import load_case_facts
from reviewer.documents.package import ATTACHMENT_NAME, build_claim_package
from reviewer.intake.identity import resolve_identity
from storage.audit import AuditContext
from storage.blobs import BlobStore
from storage.models import Attachment, Case, Patient
from tests.integration.billing.conftest import (
    SUBMITTED_AT,
    _sign,
    actor_for,
    org,
    user,
)
from tests.integration.billing.test_documents import text_of
from tests.support.dicoms import write_dicom
from tests.support.intake import Picture, attach
from tests.support.intake import uploader as upload_actor

RADIOGRAPH_CODES = {"D0391", *(f"D07{n:02d}" for n in range(1, 10))}


async def _case_with_dicom(db: AsyncSession, blobs: BlobStore, dicom: Path) -> Case:
    clinic = await org(db, "Demo Dental Clinic")
    patient = await db.scalar(select(Patient).where(Patient.email == "patient@demo.test"))
    assert patient is not None
    submitter = await user(db, "patient@demo.test")
    case = Case(
        organization_id=clinic.id, patient_id=patient.id, kind="question", status="draft",
        urgency="routine", urgency_rank=2, questionnaire={"pain": 2}, problem="new",
        location_state="CA", location_site="home", submitted_by_id=submitter.id,
        collected_on=dt.date(2026, 11, 20), submitted_at=SUBMITTED_AT,
        first_submitted_at=SUBMITTED_AT,
    )
    db.add(case)
    await db.flush()
    await attach(db, blobs, await upload_actor(db, submitter.email), case,
                 [Picture(dicom, "radiograph", "periapical", "3")])
    case.status, case.reviewed_at = "reviewed", SUBMITTED_AT + dt.timedelta(hours=2)
    await _sign(db, case, await user(db, "dentist@demo.test"),
                findings="Tooth 3 looks sound.", diagnosis="No caries seen, tooth 3.",
                advice="Keep brushing.", procedures=[], follow_up_days=30)
    await db.flush()
    return case


async def _claim(db: AsyncSession, blobs: BlobStore, case: Case) -> tuple[set[str], str]:
    facts = await load_case_facts(db, case, blobs=blobs)
    built = build_claim_package(facts.record, facts.profile, attachment_control_number="TLID17")
    [pdf] = [f.data for f in built.files if f.name == ATTACHMENT_NAME]
    return {line.code for line in facts.record.lines}, text_of(pdf)


async def test_a_held_dicom_is_on_no_claim_until_confirmed(
    demo_db: AsyncSession, blobs: BlobStore, tmp_path: Path
):
    dicom = write_dicom(tmp_path / "theirs.dcm", name="Other^Olivia", birth_date="20100101")
    case = await _case_with_dicom(demo_db, blobs, dicom)
    [row] = (await demo_db.scalars(select(Attachment).where(Attachment.case_id == case.id))).all()
    assert row.status == "identity_mismatch"

    codes, text = await _claim(demo_db, blobs, case)
    assert not codes & RADIOGRAPH_CODES, codes
    assert "Image 1" not in text and "Pat Demo · born" not in text

    desk = await actor_for(demo_db, "billing@demo.test")
    ctx = AuditContext(actor_id=desk.user_id, actor_role="front_desk", client_address="127.0.0.1")
    await resolve_identity(demo_db, desk, ctx, case.id, row.id, "confirm", "Same child")
    assert row.status == "ready"
    codes, text = await _claim(demo_db, blobs, case)
    assert codes & RADIOGRAPH_CODES, codes
    assert "Image 1" in text
    assert "Pat Demo · born 1988-04-12 · captured 2026-11-20 00:00 · Periapical · teeth 3" in text


async def test_a_matching_dicom_is_on_the_claim_at_once(
    demo_db: AsyncSession, blobs: BlobStore, tmp_path: Path
):
    dicom = write_dicom(tmp_path / "mine.dcm", name="Demo^Pat", birth_date="19880412")
    case = await _case_with_dicom(demo_db, blobs, dicom)
    codes, text = await _claim(demo_db, blobs, case)
    assert codes & RADIOGRAPH_CODES, codes
    assert "Pat Demo · born 1988-04-12" in text
