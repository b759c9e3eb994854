"""The children of a screening event: the class list, one child's screening (findings and
services → a ``school_screening`` case), "not screened", and sending the case to the queue.

Retries are harmless: a child's case is created under the Idempotency-Key
``screening:<enrollment id>`` (unique per submitter, so a double tap or a retry after a
dropped connection finds the case the first request made) and every later save of the
findings updates that draft. No consent on file means no case and no images: intake's
``create_case`` answers 409 ``consent_required``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.cases.enums import CaseKind, CaseStatus, OriginatingSite
from reviewer.clock import age_on
from reviewer.consent_forms import TELEDENTISTRY, current_form
from reviewer.errors import Conflict, NotFound
from reviewer.intake.cases import NewCase, create_case, get_submittable_case, submit_case
from reviewer.screening.case_screening import apply_findings
from reviewer.screening.events import EVENT_READERS, SCREENERS, get_event, require_role
from reviewer.screening.findings import clean_not_screened_reason, parse_findings
from reviewer.screening.progress import ChildState, Progress, child_state, progress
from storage.audit import AuditContext, record_event, record_view
from storage.models import (
    Attachment,
    Case,
    Consent,
    Patient,
    ScreeningEnrollment,
    ScreeningEvent,
)

KEY_PREFIX = "screening:"


def case_key(enrollment_id: uuid.UUID) -> str:
    return f"{KEY_PREFIX}{enrollment_id}"


@dataclass(frozen=True, slots=True)
class Child:
    enrollment: ScreeningEnrollment
    patient: Patient
    case: Case | None
    consent: bool
    photos: int = 0

    @property
    def state(self) -> ChildState:
        return child_state(self.enrollment.status, self.case.status if self.case else None)

    @property
    def findings(self) -> Mapping[str, Any]:
        return (self.case.screening or {}) if self.case is not None else {}

    def age_on(self, event: ScreeningEvent) -> int:
        return age_on(self.patient.date_of_birth, event.event_date)


@dataclass(frozen=True, slots=True)
class ClassList:
    event: ScreeningEvent
    children: list[Child]

    @property
    def progress(self) -> Progress:
        return progress(child.state for child in self.children)


async def _consented(db: AsyncSession, patient_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    if not patient_ids:
        return set()
    rows = await db.scalars(
        select(Consent.patient_id).where(
            Consent.patient_id.in_(patient_ids),
            Consent.form == TELEDENTISTRY,
            Consent.version == current_form(TELEDENTISTRY).version,
            Consent.revoked_at.is_(None),
        )
    )
    return set(rows)


async def load_children(
    db: AsyncSession, event: ScreeningEvent, enrollment_id: uuid.UUID | None = None
) -> list[Child]:
    query = (
        select(ScreeningEnrollment, Patient, Case)
        .join(Patient, Patient.id == ScreeningEnrollment.patient_id)
        .outerjoin(Case, Case.id == ScreeningEnrollment.case_id)
        .where(ScreeningEnrollment.event_id == event.id)
        .order_by(Patient.last_name, Patient.first_name, ScreeningEnrollment.id)
    )
    if enrollment_id is not None:
        query = query.where(ScreeningEnrollment.id == enrollment_id)
    rows = (await db.execute(query)).all()
    consented = await _consented(db, [patient.id for _, patient, _ in rows])
    case_ids = [case.id for _, _, case in rows if case is not None]
    photos: dict[uuid.UUID, int] = {}
    if case_ids:
        counts = await db.execute(
            select(Attachment.case_id, func.count())
            .where(Attachment.case_id.in_(case_ids))
            .group_by(Attachment.case_id)
        )
        photos = {case_id: int(n) for case_id, n in counts.all()}
    return [
        Child(enrollment, patient, case, patient.id in consented,
              photos.get(case.id, 0) if case is not None else 0)
        for enrollment, patient, case in rows
    ]


async def class_list(
    db: AsyncSession, actor: Actor, ctx: AuditContext, event_id: uuid.UUID, *, audit: bool = True
) -> ClassList:
    """The event and every child on its roster with their state (the read is audited)."""
    event = await get_event(db, actor, event_id, EVENT_READERS)
    children = await load_children(db, event)
    if audit:
        record_view(
            db, "screening_event.viewed", ctx, organization_id=event.organization_id,
            subject_type="screening_event", subject_id=event.id,
            details={"children": len(children)},
        )
    return ClassList(event, children)


async def get_child(
    db: AsyncSession, actor: Actor, ctx: AuditContext, event_id: uuid.UUID,
    enrollment_id: uuid.UUID, *, audit: bool = True,
) -> tuple[ScreeningEvent, Child]:
    """One child of the event (NotFound when not on this event's roster)."""
    event = await get_event(db, actor, event_id, EVENT_READERS)
    found = await load_children(db, event, enrollment_id)
    if not found:
        raise NotFound("No such child on this event's roster.")
    child = found[0]
    if audit:
        record_view(
            db, "patient.viewed", ctx, organization_id=event.organization_id,
            subject_type="patient", subject_id=child.patient.id,
            case_id=child.case.id if child.case is not None else None,
            details={"screening_event_id": str(event.id)},
        )
    return event, child


async def _own_case(db: AsyncSession, actor: Actor, child: Child) -> Case | None:
    """The child's case if this hygienist may work on it; a case another hygienist started is
    a Conflict (one child, one case)."""
    if child.case is None:
        return None
    try:
        return await get_submittable_case(db, actor, child.case.id)
    except NotFound:
        raise Conflict("Another hygienist is screening this child.",
                       code="screened_by_someone_else") from None


async def save_findings(
    db: AsyncSession, actor: Actor, ctx: AuditContext, event_id: uuid.UUID,
    enrollment_id: uuid.UUID, raw: Mapping[str, Any],
) -> tuple[ScreeningEvent, Child]:
    """Record (or correct) one child's findings and services: creates the child's draft case
    the first time, updates it afterwards. Idempotent."""
    require_role(actor, SCREENERS)
    event, child = await get_child(db, actor, ctx, event_id, enrollment_id, audit=False)
    findings = parse_findings(raw, age_years=child.age_on(event))
    case = await _own_case(db, actor, child)
    if case is None:
        created = await create_case(
            db, actor, ctx,
            NewCase(kind=CaseKind.SCHOOL_SCREENING.value, patient_id=child.patient.id,
                    location_state=event.state, location_site=OriginatingSite.SCHOOL.value),
            case_key(child.enrollment.id),
        )
        case = created.case
    elif case.status not in {CaseStatus.DRAFT, CaseStatus.NEEDS_INFO}:
        raise Conflict("This child's case was already sent to the dentists.",
                       code="already_submitted")
    apply_findings(case, event, findings)
    enrollment = child.enrollment
    enrollment.case_id = case.id
    if enrollment.status in {"pending", "not_screened"}:
        enrollment.status = "screened"
    enrollment.not_screened_reason = ""
    await db.flush()
    await record_event(
        db, "screening.recorded", ctx, organization_id=event.organization_id,
        subject_type="case", subject_id=case.id,
        details={"screening_event_id": str(event.id), "urgency": case.urgency,
                 "services": [s.code for s in findings.services]},
    )
    return event, Child(enrollment, child.patient, case, child.consent, child.photos)


async def mark_not_screened(
    db: AsyncSession, actor: Actor, ctx: AuditContext, event_id: uuid.UUID,
    enrollment_id: uuid.UUID, reason: str | None, note: str | None = None,
) -> tuple[ScreeningEvent, Child]:
    """The child was not screened (absent, no consent, declined…). Refused once the child's
    case went to the dentists."""
    require_role(actor, SCREENERS)
    event, child = await get_child(db, actor, ctx, event_id, enrollment_id, audit=False)
    stored = clean_not_screened_reason(reason, note)
    if child.case is not None and child.case.status != CaseStatus.DRAFT:
        raise Conflict("This child's case was already sent to the dentists.",
                       code="already_submitted")
    child.enrollment.status = "not_screened"
    child.enrollment.not_screened_reason = stored
    await db.flush()
    await record_event(
        db, "screening.not_screened", ctx, organization_id=event.organization_id,
        subject_type="patient", subject_id=child.patient.id,
        details={"screening_event_id": str(event.id), "reason": stored.partition(": ")[0]},
    )
    return event, child


async def submit_child(
    db: AsyncSession, actor: Actor, ctx: AuditContext, event_id: uuid.UUID,
    enrollment_id: uuid.UUID,
) -> tuple[ScreeningEvent, Case]:
    """Send the child's case to the dentists' queue (idempotent). Needs the findings and at
    least one intraoral photo."""
    require_role(actor, SCREENERS)
    event, child = await get_child(db, actor, ctx, event_id, enrollment_id, audit=False)
    case = await _own_case(db, actor, child)
    if case is None or not case.screening:
        raise Conflict("Record the findings before sending.", code="findings_required")
    if child.photos == 0 and case.status == CaseStatus.DRAFT:
        raise Conflict("Add at least one intraoral photo before sending.",
                       code="photos_required")
    case = await submit_case(db, actor, ctx, case.id)
    child.enrollment.status = "submitted"
    await db.flush()
    return event, case
