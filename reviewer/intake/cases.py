"""Cases as their submitter sees them: create (idempotent), submit, read.

A case is created as a ``draft`` with its questionnaire and location; attachments are added to
the draft (``reviewer.intake.attachments``); ``submit`` hands it to the review queue.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.access import case_visibility, get_case, may_submit_for
from reviewer.actor import Actor
from reviewer.cases.enums import CaseKind, CaseStatus, OriginatingSite
from reviewer.cases.state import (
    CaseAction,
    case_urgency,
    due_at,
    emergency_signals,
    targets_from_hours,
    transition,
)
from reviewer.consent_forms import TELEDENTISTRY
from reviewer.errors import Conflict, Invalid, NotFound, Unprocessable
from reviewer.i18n import N_
from reviewer.intake.consents import has_current_consent, patient_for_submission
from reviewer.intake.questionnaire import clean_questionnaire, problem_of
from reviewer.screening.case_screening import (
    link_new_case,
    screening_for_new_case,
    screening_payload,
)
from storage.audit import AuditContext, record_event, record_view
from storage.models import (
    Attachment,
    Case,
    Evaluation,
    Organization,
    OrganizationKind,
    Patient,
    Role,
)

MAX_IDEMPOTENCY_KEY = 128
STAFF_KINDS = frozenset({CaseKind.SCHOOL_SCREENING})


@dataclass(frozen=True, slots=True)
class NewCase:
    kind: str
    questionnaire: dict[str, Any] = field(default_factory=dict)
    location_state: str | None = None
    location_site: str | None = None
    patient_id: uuid.UUID | None = None
    screening: dict[str, Any] | None = None
    """school_screening only: findings and services (reviewer.screening.case_screening)."""

    def fingerprint(self) -> str:
        """What a repeated Idempotency-Key must match: the request as it was sent."""
        canonical = json.dumps(
            {
                "kind": self.kind,
                "questionnaire": self.questionnaire,
                "location": [self.location_state, self.location_site],
                "patient_id": str(self.patient_id) if self.patient_id else None,
                "screening": self.screening,
            },
            sort_keys=True,
            separators=(",", ":"),
            default=str,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class CreatedCase:
    case: Case
    created: bool
    """False when a repeated Idempotency-Key found the case made the first time."""


def _check_key(key: str | None) -> str | None:
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise Invalid(
            f"The Idempotency-Key is 1 to {MAX_IDEMPOTENCY_KEY} printable characters.",
            code="invalid_idempotency_key",
        )
    return key


async def _by_key(db: AsyncSession, actor: Actor, key: str, fingerprint: str) -> Case | None:
    case = await db.scalar(
        select(Case).where(Case.submitted_by_id == actor.user_id, Case.idempotency_key == key)
    )
    if case is not None and case.idempotency_fingerprint != fingerprint:
        raise Unprocessable(
            "This Idempotency-Key was already used for a different request.",
            code="idempotency_conflict",
        )
    return case


def _location(
    new: NewCase, patient: Patient, org: Organization, actor: Actor
) -> tuple[str, str]:
    if actor.role == Role.PATIENT:
        default_state, default_site = patient.state or org.state, OriginatingSite.HOME
    else:
        default_state = org.state or patient.state
        default_site = (
            OriginatingSite.SCHOOL
            if org.kind == OrganizationKind.SCHOOL_PROGRAM
            else OriginatingSite.OFFICE
        )
    state = (new.location_state or default_state or "").strip().upper()
    if len(state) != 2 or not state.isalpha() or not state.isascii():
        raise Invalid("location.state is a two-letter state code, like CA.",
                      code="invalid_location")
    try:
        site = OriginatingSite(new.location_site or default_site)
    except ValueError:
        raise Invalid("location.site is home, school, office or other.",
                      code="invalid_location") from None
    return state, site.value


def _kind(new: NewCase, actor: Actor) -> CaseKind:
    try:
        kind = CaseKind(new.kind)
    except ValueError:
        raise Invalid("kind is post_op, emergency, question or school_screening.",
                      code="invalid_kind") from None
    if kind in STAFF_KINDS and actor.role == Role.PATIENT:
        raise Invalid("A school screening case is sent by the screening hygienist.",
                      code="invalid_kind")
    return kind


async def create_case(
    db: AsyncSession,
    actor: Actor,
    ctx: AuditContext,
    new: NewCase,
    idempotency_key: str | None = None,
) -> CreatedCase:
    """Create a draft case for a patient the actor may submit for.

    Raises Conflict ``consent_required`` without a current teledentistry consent, and
    Unprocessable ``idempotency_conflict`` for a repeated key with a different request.
    """
    key = _check_key(idempotency_key)
    fingerprint = new.fingerprint()
    if key and (existing := await _by_key(db, actor, key, fingerprint)) is not None:
        return CreatedCase(existing, created=False)
    kind = _kind(new, actor)
    questionnaire = clean_questionnaire(new.questionnaire, today=datetime.now(UTC).date())
    patient = await patient_for_submission(db, actor, new.patient_id)
    if not await has_current_consent(db, patient.id, TELEDENTISTRY):
        raise Conflict(
            N_("The teledentistry consent must be accepted before photos can be sent."),
            code="consent_required",
        )
    screening = await screening_for_new_case(db, actor, patient, kind, new.screening)
    org = await db.get_one(Organization, patient.organization_id)
    state, site = _location(new, patient, org, actor)
    urgency = case_urgency(questionnaire)
    case = Case(
        organization_id=org.id,
        patient_id=patient.id,
        kind=kind.value,
        status=CaseStatus.DRAFT.value,
        urgency=urgency.value,
        urgency_rank=urgency.queue_rank,
        questionnaire=questionnaire,
        problem=problem_of(kind, questionnaire).value,
        location_state=state,
        location_site=site,
        submitted_by_id=actor.user_id,
        idempotency_key=key,
        idempotency_fingerprint=fingerprint if key else None,
        collected_on=datetime.now(UTC).date(),
    )
    try:
        async with db.begin_nested():
            db.add(case)
            await db.flush()
    except IntegrityError:
        # The same key raced us (a double tap): answer with the case the other request made.
        if key and (existing := await _by_key(db, actor, key, fingerprint)) is not None:
            return CreatedCase(existing, created=False)
        raise
    await link_new_case(db, case, screening)
    await record_event(
        db,
        "case.created",
        ctx,
        organization_id=org.id,
        subject_type="case",
        subject_id=case.id,
        details={"kind": case.kind, "urgency": case.urgency, "site": site,
                 "emergency": bool(emergency_signals(questionnaire))},
    )
    return CreatedCase(case, created=True)


async def save_draft(
    db: AsyncSession, actor: Actor, ctx: AuditContext, new: NewCase, draft_key: str
) -> CreatedCase:
    """For the pages: one key per draft form. Posting the form again (a double tap, or after
    going back to change an answer) updates that draft instead of creating another case."""
    key = _check_key(draft_key)
    assert key is not None
    existing = await db.scalar(
        select(Case).where(Case.submitted_by_id == actor.user_id, Case.idempotency_key == key)
    )
    if existing is None:
        return await create_case(db, actor, ctx, new, key)
    fingerprint = new.fingerprint()
    if existing.status != CaseStatus.DRAFT or existing.idempotency_fingerprint == fingerprint:
        return CreatedCase(existing, created=False)
    kind = _kind(new, actor)
    questionnaire = clean_questionnaire(new.questionnaire, today=datetime.now(UTC).date())
    urgency = case_urgency(questionnaire)
    existing.kind = kind.value
    existing.questionnaire = questionnaire
    existing.problem = problem_of(kind, questionnaire).value
    existing.urgency = urgency.value
    existing.urgency_rank = urgency.queue_rank
    existing.idempotency_fingerprint = fingerprint
    await db.flush()
    await record_event(
        db, "case.updated", ctx, organization_id=existing.organization_id,
        subject_type="case", subject_id=existing.id,
        details={"kind": existing.kind, "urgency": existing.urgency,
                 "emergency": bool(emergency_signals(questionnaire))},
    )
    return CreatedCase(existing, created=False)


async def get_submittable_case(db: AsyncSession, actor: Actor, case_id: uuid.UUID) -> Case:
    """A case the actor may read AND submit for (its patient is within may_submit_for)."""
    case = await db.scalar(
        select(Case)
        .join(Patient, Patient.id == Case.patient_id)
        .where(Case.id == case_id, case_visibility(actor), may_submit_for(actor))
    )
    if case is None:
        raise NotFound("No such case.")
    return case


async def _targets(db: AsyncSession, organization_id: uuid.UUID) -> Any:
    org = await db.get_one(Organization, organization_id)
    try:
        return targets_from_hours(org.turnaround_hours or {})
    except ValueError:
        return {}


async def submit_case(
    db: AsyncSession, actor: Actor, ctx: AuditContext, case_id: uuid.UUID
) -> Case:
    """Send a draft (or a case returned for information) to the review queue.

    Idempotent: submitting a case that is already on its way answers it unchanged.
    """
    case = await get_submittable_case(db, actor, case_id)
    status = CaseStatus(case.status)
    if status in {CaseStatus.SUBMITTED, CaseStatus.IN_REVIEW, CaseStatus.REVIEWED,
                  CaseStatus.CLOSED}:
        return case
    action = CaseAction.RESUBMIT if status is CaseStatus.NEEDS_INFO else CaseAction.SUBMIT
    case.status = transition(status, action).value
    now = datetime.now(UTC)
    case.submitted_at = now
    if case.first_submitted_at is None:
        case.first_submitted_at = now
    if case.due_at is None:
        case.due_at = due_at(
            case.first_submitted_at, case.urgency, await _targets(db, case.organization_id),
            case.kind,
        )
    await db.flush()
    await record_event(
        db,
        "case.submitted" if action is CaseAction.SUBMIT else "case.resubmitted",
        ctx,
        organization_id=case.organization_id,
        subject_type="case",
        subject_id=case.id,
        details={"urgency": case.urgency},
    )
    return case


async def case_attachments(db: AsyncSession, case_id: uuid.UUID) -> list[Attachment]:
    rows = await db.scalars(
        select(Attachment)
        .where(Attachment.case_id == case_id)
        .order_by(Attachment.created_at, Attachment.id)
    )
    return list(rows)


async def signed_evaluation(db: AsyncSession, case_id: uuid.UUID) -> Evaluation | None:
    return await db.scalar(
        select(Evaluation).where(Evaluation.case_id == case_id, Evaluation.status == "signed")
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def attachment_payload(attachment: Attachment) -> dict[str, Any]:
    return {
        "id": str(attachment.id),
        "kind": attachment.kind,
        "view": attachment.view,
        "teeth": [t for t in attachment.teeth.split(",") if t],
        "captured_at": _iso(attachment.captured_at),
        "status": attachment.status,
        "media_type": attachment.media_type,
        "width": attachment.width,
        "height": attachment.height,
        "quality": attachment.quality,
        "retake_requested": attachment.retake_requested,
        "retake_reason": attachment.retake_reason,
    }


@dataclass(frozen=True, slots=True)
class SubmitterView:
    """A case as its submitter (patient, guardian or hygienist) may see it."""

    case: Case
    attachments: list[Attachment]
    evaluation: Evaluation | None
    """Only a signed one; its internal notes are never shown."""

    @property
    def emergency(self) -> bool:
        return bool(emergency_signals(self.case.questionnaire or {}))

    def payload(self) -> dict[str, Any]:
        case = self.case
        evaluation = None
        if self.evaluation is not None:
            evaluation = {
                "advice": self.evaluation.advice,
                "follow_up_days": self.evaluation.follow_up_days,
                "signed_at": _iso(self.evaluation.signed_at),
            }
        return {
            "id": str(case.id),
            "patient_id": str(case.patient_id),
            "kind": case.kind,
            "status": case.status,
            "urgency": case.urgency,
            "emergency": self.emergency,
            "questionnaire": case.questionnaire or {},
            "problem": case.problem,
            "location": {"state": case.location_state, "site": case.location_site},
            "created_at": _iso(case.created_at),
            "submitted_at": _iso(case.submitted_at),
            "attachments": [attachment_payload(a) for a in self.attachments],
            "evaluation": evaluation,
            "screening": screening_payload(case),
        }


async def view_case(
    db: AsyncSession, actor: Actor, ctx: AuditContext, case_id: uuid.UUID, *, audit: bool = True
) -> SubmitterView:
    """Read a case (access scoped at the source) and record the view (``audit=False``: the
    caller just wrote the case and answers with it, which is not a separate read)."""
    case = await get_case(db, actor, case_id)
    view = SubmitterView(
        case=case,
        attachments=await case_attachments(db, case.id),
        evaluation=await signed_evaluation(db, case.id),
    )
    if audit:
        record_view(
            db, "case.viewed", ctx, organization_id=case.organization_id,
            subject_type="case", subject_id=case.id, case_id=case.id,
        )
    return view


@dataclass(frozen=True, slots=True)
class CaseSummary:
    case: Case
    attachment_count: int
    has_advice: bool


async def list_my_cases(db: AsyncSession, actor: Actor, limit: int = 50) -> list[CaseSummary]:
    """The actor's own cases (a patient's: their patients'), newest first."""
    counts = (
        select(Attachment.case_id, func.count().label("n"))
        .group_by(Attachment.case_id)
        .subquery()
    )
    signed = select(Evaluation.case_id).where(Evaluation.status == "signed").subquery()
    rows = await db.execute(
        select(Case, func.coalesce(counts.c.n, 0), signed.c.case_id)
        .outerjoin(counts, counts.c.case_id == Case.id)
        .outerjoin(signed, signed.c.case_id == Case.id)
        .where(case_visibility(actor))
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(limit)
    )
    return [CaseSummary(case, int(n), advice is not None) for case, n, advice in rows.all()]


async def organization_of(db: AsyncSession, case: Case) -> Organization:
    return await db.get_one(Organization, case.organization_id)


@dataclass(frozen=True, slots=True)
class IntakeStart:
    """What the patient's pages need before a case exists."""

    patient: Patient
    organization: Organization
    consent_ok: bool


async def intake_start(db: AsyncSession, actor: Actor) -> IntakeStart:
    patient = await patient_for_submission(db, actor, None)
    return IntakeStart(
        patient=patient,
        organization=await db.get_one(Organization, patient.organization_id),
        consent_ok=await has_current_consent(db, patient.id, TELEDENTISTRY),
    )
