"""Signed cases for billing tests: a post-op case of the clinic's demo patient and a school
screening of Zoë Nguyễn. The case and evaluation rows are inserted directly (intake's pages and
the review desk are other areas); the attachments go through the real intake service
(``tests/support/intake.py``), so their kinds and views are ones intake accepts."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.billing.encounters import propose_case_lines
from reviewer.billing.jobs import build_package_job
from reviewer.patients.history import HistoryEntry, HistoryInput, update_history
from storage.audit import AuditContext
from storage.blobs import BlobStore
from storage.models import (
    Case,
    Evaluation,
    Organization,
    Patient,
    ScreeningEvent,
    User,
)
from tests.support import services as shared_fixtures
from tests.support.fixtures import FIXTURES
from tests.support.intake import Picture, attach
from tests.support.intake import uploader as upload_actor

app_db = shared_fixtures.app_db
blobs = shared_fixtures.blobs
demo_db = shared_fixtures.demo_db
"""The shared fixtures, by name (tests/support/services.py)."""

GOOD = FIXTURES / "good"
SIGNED_AT = dt.datetime(2026, 11, 21, 17, 30, tzinfo=dt.UTC)  # 09:30 in Sacramento
SUBMITTED_AT = dt.datetime(2026, 11, 20, 16, 5, tzinfo=dt.UTC)
SCHOOL_DAY = dt.date(2026, 11, 18)
CTX = AuditContext(actor_id=None, actor_role="test", client_address="127.0.0.1")

POST_OP_FILES: tuple[tuple[str, str, str, str], ...] = (
    # file, kind, view, teeth
    ("phone_postop_rotated_gps.jpg", "photo", "upper_occlusal", "3"),
    ("phone_postop_upright.jpg", "photo", "anterior", "8,9"),
    ("xray_8bit.jpg", "radiograph", "other", "3"),
)
SCHOOL_FILES: tuple[tuple[str, str, str, str], ...] = (
    ("intraoral_camera.png", "photo", "lower_occlusal", "19,30"),
    # the hygienist's bitewing: coded D0708 (bitewing capture), not as a periapical
    ("xray_bitewing_16bit.png", "radiograph", "bitewing", "3,14,19,30"),
)


@dataclass(frozen=True)
class Seeded:
    case_id: uuid.UUID
    patient_id: uuid.UUID
    organization_id: uuid.UUID
    evaluation_id: uuid.UUID
    attachment_sha256: tuple[str, ...]


async def user(db: AsyncSession, email: str) -> User:
    found = await db.scalar(select(User).where(User.email == email))
    assert found is not None, email
    return found


async def actor_for(db: AsyncSession, email: str) -> Actor:
    u = await user(db, email)
    return Actor(
        user_id=u.id, role=u.role, organization_ids=frozenset(u.organization_ids), email=u.email
    )


async def org(db: AsyncSession, name: str) -> Organization:
    found = await db.scalar(select(Organization).where(Organization.name == name))
    assert found is not None
    return found


async def _attach(
    db: AsyncSession, blobs: BlobStore, case: Case, uploader: User,
    files: tuple[tuple[str, str, str, str], ...], taken: dt.datetime,
) -> tuple[str, ...]:
    """Upload through intake while the case is a draft, then move it to ``reviewed``."""
    status, case.status = case.status, "draft"
    await db.flush()
    rows = await attach(
        db, blobs, await upload_actor(db, uploader.email), case,
        [Picture(GOOD / name, kind, view, teeth) for name, kind, view, teeth in files],
        captured=[taken + dt.timedelta(seconds=i) for i in range(len(files))],
        created=[SUBMITTED_AT + dt.timedelta(seconds=i) for i in range(len(files))],
    )
    case.status = status
    await db.flush()
    return tuple(row.original_sha256 for row in rows)


async def _sign(db: AsyncSession, case: Case, dentist: User, **fields: object) -> Evaluation:
    evaluation = Evaluation(
        case_id=case.id, dentist_id=dentist.id, status="signed", signed_at=SIGNED_AT,
        attestation=(
            "I reviewed the images and answers listed above and this record is accurate."
        ),
        content_sha256="ab" * 32,
        **fields,
    )
    db.add(evaluation)
    await db.flush()
    return evaluation


async def _bill(db: AsyncSession, blobs: BlobStore, case: Case, *, package: bool) -> None:
    """What signing does (``billing_on_signed``): the proposed lines in the signing
    transaction, then, after the commit, the job that builds package version 1."""
    case_id = case.id
    await propose_case_lines(db, case)
    await db.commit()
    if package:
        await build_package_job(
            db, blobs, {"kind": "asynchronous", "encounter_id": str(case_id)}
        )


async def seed_post_op(
    db: AsyncSession, blobs: BlobStore, files=POST_OP_FILES, *, package: bool = True
) -> Seeded:
    clinic = await org(db, "Demo Dental Clinic")
    patient = await db.scalar(select(Patient).where(Patient.email == "patient@demo.test"))
    assert patient is not None
    submitter = await user(db, "patient@demo.test")
    as_patient = replace(await actor_for(db, submitter.email), patient_ids=frozenset({patient.id}))
    await update_history(db, as_patient, patient.id,
                         HistoryInput(allergies=[HistoryEntry("Penicillin", "hives")]))
    dentist = await user(db, "dentist@demo.test")
    case = Case(
        organization_id=clinic.id, patient_id=patient.id, kind="post_op", status="reviewed",
        urgency="routine", urgency_rank=2,
        questionnaire={"pain": 3, "swelling": False, "question": "Is the extraction site healing?",
                       "medications": "ibuprofen 400 mg"},
        location_state="CA", location_site="home", submitted_by_id=submitter.id,
        collected_on=dt.date(2026, 11, 20), submitted_at=SUBMITTED_AT,
        first_submitted_at=SUBMITTED_AT, reviewed_at=SIGNED_AT - dt.timedelta(minutes=20),
    )
    db.add(case)
    await db.flush()
    hashes = await _attach(db, blobs, case, submitter, files, dt.datetime(2026, 11, 20, 8, 0))
    evaluation = await _sign(
        db, case, dentist,
        findings="Socket of tooth 3 closing well; no swelling visible.",
        teeth_findings=[{"tooth": "3", "condition": "healing extraction socket"}],
        diagnosis="Normal healing after extraction of tooth 3.",
        advice="Keep rinsing gently with warm salt water after meals.",
        procedures=[{"code": "D2740", "tooth": "2", "surfaces": None,
                     "rationale": "fractured cusp seen on tooth 2"}],
        referral={"specialty": "oral surgery", "reason": "bone spicule check if pain returns"},
        follow_up_days=14,
    )
    await _bill(db, blobs, case, package=package)
    return Seeded(case.id, patient.id, clinic.id, evaluation.id, hashes)


async def seed_school(db: AsyncSession, blobs: BlobStore, *, package: bool = True) -> Seeded:
    school = await org(db, "Demo School Program")
    hygienist = await user(db, "hygienist@demo.test")
    dentist = await user(db, "dentist@demo.test")
    child = Patient(
        organization_id=school.id, first_name="Zoë", last_name="Nguyễn",
        date_of_birth=dt.date(2017, 3, 2), student_id="S-1001", school="Lincoln Elementary",
        grade="3", guardian_name="李雷", state="CA",
    )
    db.add(child)
    event = ScreeningEvent(
        organization_id=school.id, site="Lincoln Elementary", event_date=SCHOOL_DAY, state="CA",
        hygienist_id=hygienist.id,
    )
    db.add(event)
    await db.flush()
    case = Case(
        organization_id=school.id, patient_id=child.id, kind="school_screening",
        status="reviewed", urgency="soon", urgency_rank=1, questionnaire={},
        screening={
            "event_id": str(event.id), "caries_experience": True, "untreated_decay": True,
            "sealants_present": False, "treatment_urgency": "early",
            "services": [{"code": "D1206"}, {"code": "D1351", "tooth": "3"}],
        },
        screening_event_id=event.id, location_state="CA", location_site="school",
        submitted_by_id=hygienist.id, collected_on=SCHOOL_DAY, submitted_at=SUBMITTED_AT,
        first_submitted_at=SUBMITTED_AT,
    )
    db.add(case)
    await db.flush()
    hashes = await _attach(
        db, blobs, case, hygienist, SCHOOL_FILES, dt.datetime(2026, 11, 18, 10, 0)
    )
    evaluation = await _sign(
        db, case, dentist,
        findings="Cavitated lesion on tooth 30; sealant placed on tooth 3.",
        diagnosis="Early childhood caries, tooth 30.",
        advice="See a dentist within a few weeks for the cavity on a lower back tooth.",
        procedures=[{"code": "D2391", "tooth": "30", "surfaces": "O",
                     "rationale": "cavitated occlusal lesion"}],
        referral={"specialty": "general dentist", "reason": "restore tooth 30"},
        follow_up_days=30,
    )
    await _bill(db, blobs, case, package=package)
    return Seeded(case.id, child.id, school.id, evaluation.id, hashes)

