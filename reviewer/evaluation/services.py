"""Evaluation verbs: save the draft, sign it, add addenda, ask the submitter for more.

Only the dentist who holds the claim writes the draft or signs; every move is checked by the
case state machine (``reviewer.cases.state.transition``) and audited. A signed evaluation
never changes: its content hash (``content_sha256``) is computed once, at signing.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.access import get_case
from reviewer.actor import Actor
from reviewer.billing.jobs import billing_on_signed
from reviewer.billing.packages import rebuild_after_commit
from reviewer.cases.state import (
    DEFAULT_LEASE,
    CaseAction,
    InvalidTransition,
    lease_expires_at,
    transition,
)
from reviewer.clock import age_on
from reviewer.coding.catalog import UnknownCode, get_code
from reviewer.coding.rules import EncounterType
from reviewer.errors import Forbidden, Invalid, Unprocessable
from reviewer.evaluation.distant_site import record_distant_site
from reviewer.evaluation.draft import (
    ATTESTATION,
    REFERRAL_SPECIALTIES,
    EvaluationDraft,
    Problem,
    check,
    content_sha256,
)
from reviewer.evaluation.image_review import hashed_review, image_checklist, settle_review
from reviewer.interop.archive import archive_on_signed
from reviewer.notifications.messages import Kind as NotificationKind
from reviewer.notifications.services import Subject, notify
from reviewer.queue.claims import NotLicensed, held_case
from reviewer.queue.scope import review_scope
from storage.audit import AuditContext, record_event
from storage.models import Addendum, Case, Evaluation, InfoRequest, Patient, Role, User

PasswordCheck = Callable[[str | None, str], Awaitable[bool]]
"""Checks the signer's password (argon2, off the event loop: the portal passes an async check)."""
"""``(stored_hash, password) -> ok``: the portal passes its password verifier in."""


class BadPassword(Forbidden):
    code = "bad_password"


class AttestationRequired(Unprocessable):
    code = "attestation_required"


class EvaluationIncomplete(Unprocessable):
    """Signing refused: advice missing or a problem left (``problems`` lists them)."""

    code = "evaluation_incomplete"

    def __init__(self, message: str, problems: list[Problem]) -> None:
        super().__init__(message)
        self.problems = problems


@dataclass(frozen=True)
class SavedDraft:
    evaluation: Evaluation
    problems: list[Problem]
    case: Case


def _case_age(case: Case, patient: Patient, today: date) -> int:
    return age_on(patient.date_of_birth, case.collected_on or today)


async def _patient(db: AsyncSession, case: Case) -> Patient:
    patient = await db.get(Patient, case.patient_id)
    assert patient is not None
    return patient


async def evaluation_of(db: AsyncSession, case_id: uuid.UUID) -> Evaluation | None:
    return await db.scalar(select(Evaluation).where(Evaluation.case_id == case_id))


async def _writable(db: AsyncSession, actor: Actor, case_id: uuid.UUID, action: CaseAction,
                    now: datetime) -> Case:
    """The case, held by the actor, in a status that allows ``action``."""
    if actor.role != Role.DENTIST:
        raise Forbidden("Only a dentist writes evaluations.")
    case = await held_case(db, actor, case_id)
    transition(case.status, action)
    scope = await review_scope(db, actor, now)
    if not scope.covers(case):
        raise NotLicensed("You hold no current license where this patient is located.")
    return case


async def save_draft(
    db: AsyncSession,
    actor: Actor,
    context: AuditContext,
    case_id: uuid.UUID,
    draft: EvaluationDraft,
    *,
    now: datetime,
    lease: timedelta = DEFAULT_LEASE,
) -> SavedDraft:
    """Replace the draft with ``draft`` (it is kept as typed) and renew the claim's lease.

    Returns the problems that still block signing. 409 ``invalid_transition`` once signed
    (or when the case is not in review), 409 ``not_claimant`` for anyone but the claimant.
    """
    case = await _writable(db, actor, case_id, CaseAction.EDIT_EVALUATION, now)
    patient = await _patient(db, case)
    checked = check(draft, _case_age(case, patient, now.date()))
    evaluation = await evaluation_of(db, case.id)
    if evaluation is None:
        evaluation = Evaluation(case_id=case.id, dentist_id=actor.user_id, status="draft")
        db.add(evaluation)
    elif evaluation.status != "draft":
        raise_signed(case)
    evaluation.dentist_id = actor.user_id  # a case back from needs_info may change hands
    for name, value in checked.draft.columns().items():
        setattr(evaluation, name, value)
    case.lease_expires_at = lease_expires_at(now, lease)
    await db.flush()
    await record_event(
        db, "evaluation.saved", context, organization_id=case.organization_id,
        subject_type="case", subject_id=case.id,
        details={"evaluation_id": str(evaluation.id), "problems": len(checked.problems)},
    )
    problems = list(checked.problems)
    if not checked.draft.advice:
        problems.insert(0, Problem("advice", "advice to the patient is required"))
    return SavedDraft(evaluation, problems, case)


def raise_signed(case: Case) -> None:
    """A signed evaluation never changes: the same 409 as editing a reviewed case."""
    raise InvalidTransition(case.status, CaseAction.EDIT_EVALUATION)


async def sign_evaluation(
    db: AsyncSession,
    actor: Actor,
    context: AuditContext,
    case_id: uuid.UUID,
    *,
    password: str,
    attest: bool,
    check_password: PasswordCheck,
    now: datetime,
    draft: EvaluationDraft | None = None,
    unviewed_reasons: Mapping[str, str] | None = None,
) -> Evaluation:
    """Sign the draft (saving ``draft`` first when given): password re-checked, attestation
    required, advice required, no problem left, every image opened by the signer or given a
    reason in ``unviewed_reasons`` (``{attachment_id: reason}``; 422
    ``images_not_reviewed`` otherwise, see :mod:`reviewer.evaluation.image_review`). The
    case becomes ``reviewed``; the review span and per-image review are stored."""
    case = await _writable(db, actor, case_id, CaseAction.SIGN, now)
    if draft is not None:
        await save_draft(db, actor, context, case_id, draft, now=now)
    if not attest:
        raise AttestationRequired(f"Confirm the attestation: {ATTESTATION}")
    user = await db.get(User, actor.user_id)
    if user is None or not await check_password(
        user.password_hash if user.is_active else None, password
    ):
        raise BadPassword("That password is not right.")
    evaluation = await evaluation_of(db, case.id)
    if evaluation is None:
        raise EvaluationIncomplete("Write the evaluation before signing it.",
                                   [Problem("advice", "advice to the patient is required")])
    if evaluation.status != "draft":
        raise_signed(case)
    patient = await _patient(db, case)
    stored = EvaluationDraft.from_mapping(_columns(evaluation))
    checked = check(stored, _case_age(case, patient, now.date()))
    problems = list(checked.problems)
    if not checked.draft.advice:
        problems.insert(0, Problem("advice", "advice to the patient is required"))
    if problems:
        raise EvaluationIncomplete(
            "The evaluation cannot be signed yet: " + "; ".join(p.message for p in problems),
            problems,
        )
    review = settle_review(await image_checklist(db, case.id, actor.user_id), unviewed_reasons,
                           now)
    columns = checked.draft.columns()
    for name, value in columns.items():
        setattr(evaluation, name, value)
    evaluation.status = "signed"
    evaluation.dentist_id = actor.user_id
    evaluation.signed_at = now
    evaluation.attestation = ATTESTATION
    evaluation.review_started_at = review.started_at
    evaluation.review_ended_at = review.ended_at
    evaluation.image_review = review.items
    await record_distant_site(db, evaluation, case)
    evaluation.content_sha256 = content_sha256(
        str(case.id), str(actor.user_id), now.isoformat(),
        {**columns, **hashed_review(review.items, review.started_at, review.ended_at)},
    )
    case.status = transition(case.status, CaseAction.SIGN).value
    case.reviewed_at = now
    case.lease_expires_at = None
    await db.flush()
    await record_event(
        db, "evaluation.signed", context, organization_id=case.organization_id,
        subject_type="case", subject_id=case.id,
        details={"evaluation_id": str(evaluation.id),
                 "content_sha256": evaluation.content_sha256,
                 "images": len(review.items), "images_not_opened": len(review.waived)},
    )
    for attachment_id in review.waived:  # who, when, which: the reason itself is on the row
        await record_event(
            db, "attachment.review_waived", context, organization_id=case.organization_id,
            subject_type="attachment", subject_id=attachment_id,
            details={"case_id": str(case.id), "evaluation_id": str(evaluation.id)},
        )
    await billing_on_signed(db, case, actor)  # claim lines now, package after commit
    await archive_on_signed(db, case, context)  # DICOMweb send after commit, if set up
    await notify(db, organization_id=case.organization_id, patient_id=case.patient_id,
                 kind=NotificationKind.ADVICE_READY, subject=Subject("case", case.id, case.id),
                 now=now)  # sent after the commit; never stops the signature
    return evaluation


def _columns(evaluation: Evaluation) -> dict[str, Any]:
    return {
        "findings": evaluation.findings,
        "teeth_findings": list(evaluation.teeth_findings or []),
        "diagnosis": evaluation.diagnosis,
        "advice": evaluation.advice,
        "urgency": evaluation.urgency,
        "procedures": list(evaluation.procedures or []),
        "referral": evaluation.referral,
        "follow_up_days": evaluation.follow_up_days,
        "internal_notes": evaluation.internal_notes,
    }


def draft_problems(evaluation: Evaluation | None, patient_age: int | None) -> list[Problem]:
    """What still blocks signing a draft (empty for a signed one or none at all)."""
    if evaluation is None or evaluation.status != "draft":
        return []
    checked = check(EvaluationDraft.from_mapping(_columns(evaluation)), patient_age)
    problems = list(checked.problems)
    if not checked.draft.advice:
        problems.insert(0, Problem("advice", "advice to the patient is required"))
    return problems


def signed_content_matches(evaluation: Evaluation) -> bool:
    """Whether a signed evaluation still hashes to its ``content_sha256``."""
    if evaluation.status != "signed" or evaluation.signed_at is None:
        return False
    return evaluation.content_sha256 == content_sha256(
        str(evaluation.case_id), str(evaluation.dentist_id), evaluation.signed_at.isoformat(),
        {**EvaluationDraft.from_mapping(_columns(evaluation)).columns(),
         **hashed_review(evaluation.image_review, evaluation.review_started_at,
                         evaluation.review_ended_at)},
    )


async def add_addendum(
    db: AsyncSession,
    actor: Actor,
    context: AuditContext,
    case_id: uuid.UUID,
    *,
    text: str,
    password: str,
    check_password: PasswordCheck,
    now: datetime,
) -> Addendum:
    """A signed note after signing (any dentist who may review the case; password re-checked)."""
    if actor.role != Role.DENTIST:
        raise Forbidden("Only a dentist adds addenda.")
    case = await get_case(db, actor, case_id)
    transition(case.status, CaseAction.ADD_ADDENDUM)
    scope = await review_scope(db, actor, now)
    if not scope.covers(case):
        raise NotLicensed("You hold no current license where this patient is located.")
    body = text.strip()
    if not body:
        raise Invalid("Write the addendum.", code="addendum_empty")
    if len(body) > 20_000:
        raise Invalid("The addendum is too long.", code="addendum_too_long")
    evaluation = await evaluation_of(db, case.id)
    if evaluation is None or evaluation.status != "signed":
        raise_signed(case)
    assert evaluation is not None
    user = await db.get(User, actor.user_id)
    if user is None or not await check_password(
        user.password_hash if user.is_active else None, password
    ):
        raise BadPassword("That password is not right.")
    addendum = Addendum(evaluation_id=evaluation.id, author_id=actor.user_id, text=body,
                        signed_at=now)
    db.add(addendum)
    await db.flush()
    await record_event(
        db, "evaluation.addendum_signed", context, organization_id=case.organization_id,
        subject_type="case", subject_id=case.id,
        details={"evaluation_id": str(evaluation.id), "addendum_id": str(addendum.id)},
    )
    # The next package version carries the addendum; built after this commit.
    rebuild_after_commit(db, EncounterType.ASYNCHRONOUS, case.id, actor)
    return addendum


async def request_information(
    db: AsyncSession,
    actor: Actor,
    context: AuditContext,
    case_id: uuid.UUID,
    *,
    message: str,
    now: datetime,
) -> InfoRequest:
    """Send the case back to its submitter: the claim is released, the draft stays, the case
    waits in ``needs_info`` until the submitter resubmits (keeping its original due time)."""
    case = await _writable(db, actor, case_id, CaseAction.REQUEST_INFO, now)
    body = message.strip()
    if not body:
        raise Invalid("Say what you need.", code="message_required")
    if len(body) > 5_000:
        raise Invalid("The message is too long.", code="message_too_long")
    request = InfoRequest(case_id=case.id, requested_by_id=actor.user_id, message=body)
    db.add(request)
    case.status = transition(case.status, CaseAction.REQUEST_INFO).value
    case.claimed_by_id = None
    case.lease_expires_at = None
    await db.flush()
    await record_event(
        db, "case.info_requested", context, organization_id=case.organization_id,
        subject_type="case", subject_id=case.id, details={"info_request_id": str(request.id)},
    )
    await notify(db, organization_id=case.organization_id, patient_id=case.patient_id,
                 kind=NotificationKind.INFO_REQUESTED,
                 subject=Subject("case", case.id, case.id), now=now)
    return request


# --- what the submitter sees ------------------------------------------------------------------


@dataclass(frozen=True)
class NextStep:
    code: str
    description: str
    tooth: str | None
    surfaces: str | None


@dataclass(frozen=True)
class SubmitterView:
    """The parts of a signed evaluation a patient or hygienist may read (never internal notes,
    findings per tooth or the diagnosis wording meant for colleagues)."""

    advice: str
    urgency: str | None
    next_steps: tuple[NextStep, ...]
    referral: dict[str, str] | None
    follow_up_days: int | None
    signed_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "advice": self.advice,
            "urgency": self.urgency,
            "next_steps": [
                {"code": s.code, "description": s.description, "tooth": s.tooth,
                 "surfaces": s.surfaces}
                for s in self.next_steps
            ],
            "referral": self.referral,
            "follow_up_days": self.follow_up_days,
            "signed_at": self.signed_at.isoformat() if self.signed_at else None,
        }


def submitter_view(evaluation: Evaluation | None) -> SubmitterView | None:
    """What the submitter sees of ``evaluation``: ``None`` until it is signed."""
    if evaluation is None or evaluation.status != "signed":
        return None
    steps = []
    for proc in evaluation.procedures or []:
        code = str(proc.get("code", ""))
        try:
            description = get_code(code).descriptor
        except UnknownCode:
            description = code
        steps.append(NextStep(code, description, proc.get("tooth"), proc.get("surfaces")))
    referral = None
    if evaluation.referral:
        specialty = str(evaluation.referral.get("specialty", ""))
        referral = {
            "specialty": specialty,
            "specialty_label": REFERRAL_SPECIALTIES.get(specialty, specialty),
            "reason": str(evaluation.referral.get("reason", "")),
        }
    return SubmitterView(
        advice=evaluation.advice,
        urgency=evaluation.urgency,
        next_steps=tuple(steps),
        referral=referral,
        follow_up_days=evaluation.follow_up_days,
        signed_at=evaluation.signed_at,
    )


__all__ = [
    "ATTESTATION",
    "AttestationRequired",
    "BadPassword",
    "EvaluationIncomplete",
    "SavedDraft",
    "SubmitterView",
    "add_addendum",
    "draft_problems",
    "evaluation_of",
    "request_information",
    "save_draft",
    "sign_evaluation",
    "signed_content_matches",
    "submitter_view",
]
