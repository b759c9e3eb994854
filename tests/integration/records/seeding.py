"""Rows for records-desk and coordination tests: signed cases of the demo patient (case and
evaluation rows inserted directly; intake's pages and review are other areas) whose pictures
are uploaded through the real intake service (``tests/support/intake.py``), and an
organization the demo staff do not work for."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from storage.audit import AuditContext
from storage.blobs import BlobStore
from storage.models import Case, Evaluation, Organization, Patient, User
from tests.support.fixtures import FIXTURES
from tests.support.intake import Picture, attach
from tests.support.intake import uploader as upload_actor

GOOD = FIXTURES / "good"
CTX = AuditContext(actor_id=None, actor_role="test", client_address="127.0.0.1")
SIGNED_AT = dt.datetime(2026, 11, 21, 17, 30, tzinfo=dt.UTC)
BASE = "https://toothline.example"
"""The public URL the FHIR Bundle of an electronic copy is named under."""


@dataclass(frozen=True)
class SeededCase:
    case_id: uuid.UUID
    patient_id: uuid.UUID
    organization_id: uuid.UUID
    collected_on: dt.date
    display_sha256: tuple[str, ...]
    original_sha256: tuple[str, ...]


async def user(db: AsyncSession, email: str) -> User:
    found = await db.scalar(select(User).where(User.email == email))
    assert found is not None, email
    return found


async def actor_for(db: AsyncSession, email: str) -> Actor:
    u = await user(db, email)
    patient_ids: frozenset[uuid.UUID] = frozenset()
    if u.role == "patient":
        from storage.models import patient_login

        rows = await db.execute(select(patient_login.c.patient_id)
                                .where(patient_login.c.user_id == u.id))
        patient_ids = frozenset(r[0] for r in rows)
    return Actor(user_id=u.id, role=u.role, organization_ids=frozenset(u.organization_ids),
                 email=u.email, display_name=u.display_name, patient_ids=patient_ids)


async def org(db: AsyncSession, name: str) -> Organization:
    found = await db.scalar(select(Organization).where(Organization.name == name))
    assert found is not None
    return found


async def demo_patient(db: AsyncSession) -> Patient:
    found = await db.scalar(select(Patient).where(Patient.email == "patient@demo.test"))
    assert found is not None
    return found


async def signed_case(
    db: AsyncSession, blobs: BlobStore, patient: Patient, *, collected_on: dt.date,
    files: tuple[tuple[str, str, str], ...] = (("phone_postop_upright.jpg", "photo", "anterior"),
                                               ("xray_8bit.jpg", "radiograph", "other")),
    kind: str = "post_op", sign: bool = True, dentist_email: str = "dentist@demo.test",
    screening: dict[str, object] | None = None, urgency: str = "routine",
) -> SeededCase:
    submitter = await user(db, "dentist@demo.test" if kind == "school_screening"
                           else "billing@demo.test")
    dentist = await user(db, dentist_email)
    moment = dt.datetime.combine(collected_on, dt.time(16, 0), tzinfo=dt.UTC)
    case = Case(
        organization_id=patient.organization_id, patient_id=patient.id, kind=kind,
        status="reviewed" if sign else "submitted", urgency=urgency,
        urgency_rank={"urgent": 0, "soon": 1}.get(urgency, 2),
        questionnaire={"question": "Is it healing?"}, screening=screening,
        location_state="CA", location_site="home" if kind != "school_screening" else "school",
        submitted_by_id=submitter.id, collected_on=collected_on, submitted_at=moment,
        first_submitted_at=moment, reviewed_at=moment if sign else None,
    )
    db.add(case)
    await db.flush()
    # Uploaded through intake while a draft, by the submitter or (for a submitter who cannot
    # upload, a dentist or billing) the clinic's front desk.
    case.status = "draft"
    await db.flush()
    upload_as = submitter.email if submitter.role in {"hygienist", "front_desk", "patient"} \
        else "billing@demo.test"
    rows = await attach(
        db, blobs, await upload_actor(db, upload_as), case,
        [Picture(GOOD / name, akind, view, "3") for name, akind, view in files],
        created=[moment + dt.timedelta(seconds=index) for index in range(len(files))],
    )
    for row in rows:
        row.captured_at = None
    case.status = "reviewed" if sign else "submitted"
    displays = [row.display_sha256 or "" for row in rows]
    originals = [row.original_sha256 for row in rows]
    if sign:
        db.add(Evaluation(
            case_id=case.id, dentist_id=dentist.id, status="signed", signed_at=moment,
            attestation="I reviewed the images.", content_sha256="ab" * 32,
            findings="Healing well.", diagnosis="Normal healing.", advice="Rinse gently.",
            referral={"specialty": "oral surgery", "reason": "bone spicule check"},
        ))
    await db.flush()
    await db.commit()
    return SeededCase(case.id, patient.id, patient.organization_id, collected_on,
                      tuple(displays), tuple(originals))


async def other_org_patient(db: AsyncSession) -> Patient:
    """A patient of an organization none of the demo staff work for."""
    other = Organization(name="Elsewhere Dental", time_zone="America/New_York", state="NY")
    db.add(other)
    await db.flush()
    patient = Patient(organization_id=other.id, first_name="Olga", last_name="Other",
                      date_of_birth=dt.date(1980, 1, 1), state="NY")
    db.add(patient)
    await db.commit()
    return patient
