"""Everything the dentist's case page shows, loaded in one place (and audited as a view).

The patient summary, the questionnaire, who submitted when and from where, the images, the
same views in the patient's earlier cases (side by side), the earlier evaluations, the
information requests, this case's evaluation and its addenda.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.access import case_visibility, get_case
from reviewer.actor import Actor
from reviewer.cases.state import CaseKind, Urgency, is_overdue, targets_from_hours, turnaround
from reviewer.clock import age_on, today_in
from reviewer.evaluation.draft import Problem
from reviewer.evaluation.services import draft_problems
from reviewer.intake.identity import HeldIdentity, held_identity, is_held
from reviewer.queue.claims import holds
from reviewer.queue.scope import review_scope, urgency_of_rank
from storage.audit import AuditContext, record_view
from storage.models import (
    Addendum,
    Attachment,
    Case,
    Evaluation,
    InfoRequest,
    Organization,
    Patient,
    User,
)


@dataclass(frozen=True)
class EarlierCase:
    case: Case
    evaluation: Evaluation | None
    attachments: list[Attachment]


@dataclass(frozen=True)
class Comparison:
    """One view of this case beside the same view in an earlier case."""

    view: str
    current: Attachment
    earlier: Attachment
    earlier_case: Case


@dataclass(frozen=True)
class TimelineEntry:
    """One image of the site in the strip: which case, which image, its day."""

    case: Case
    attachment: Attachment
    taken: datetime
    current: bool


@dataclass(frozen=True)
class Timeline:
    """Every image of one view (kind and view) of this patient, oldest first, with dates:
    the post-op strip of the case page."""

    view: str
    kind: str
    entries: list[TimelineEntry]


@dataclass
class CaseFile:
    case: Case
    patient: Patient
    patient_age: int
    organization: Organization
    submitter: User | None
    attachments: list[Attachment]
    evaluation: Evaluation | None
    evaluation_author: User | None
    addenda: list[tuple[Addendum, User | None]]
    info_requests: list[InfoRequest]
    earlier: list[EarlierCase]
    comparisons: list[Comparison]
    problems: list[Problem]
    claimant: User | None
    held_by_me: bool
    licensed: bool
    urgency: Urgency
    overdue: bool
    target_hours: float
    now: datetime
    extra: dict[str, Any] = field(default_factory=dict)
    identity_holds: list[HeldIdentity] = field(default_factory=list)
    """Files held for an identity check (reviewer.intake.identity): both identities."""
    timelines: list[Timeline] = field(default_factory=list)
    """Per view of this case, every image of that view in the patient's cases (oldest first)."""


async def load_case_file(
    db: AsyncSession, actor: Actor, context: AuditContext, case_id: uuid.UUID, *, now: datetime
) -> CaseFile:
    """The case page's data; 404 outside the actor's reach. A ``case.viewed`` view row."""
    case = await get_case(db, actor, case_id)
    await db.refresh(case)
    patient = await db.get(Patient, case.patient_id)
    organization = await db.get(Organization, case.organization_id)
    assert patient is not None and organization is not None
    submitter = await db.get(User, case.submitted_by_id)
    every_file = list(
        await db.scalars(
            select(Attachment)
            .where(Attachment.case_id == case.id)
            .order_by(Attachment.created_at, Attachment.id)
        )
    )
    attachments = [a for a in every_file if not is_held(a)]  # held: not a normal image
    evaluation = await db.scalar(select(Evaluation).where(Evaluation.case_id == case.id))
    author = await db.get(User, evaluation.dentist_id) if evaluation else None
    addenda: list[tuple[Addendum, User | None]] = []
    if evaluation is not None:
        for addendum in await db.scalars(
            select(Addendum).where(Addendum.evaluation_id == evaluation.id)
            .order_by(Addendum.signed_at)
        ):
            addenda.append((addendum, await db.get(User, addendum.author_id)))
    info_requests = list(
        await db.scalars(
            select(InfoRequest).where(InfoRequest.case_id == case.id)
            .order_by(InfoRequest.created_at)
        )
    )
    earlier = await _earlier_cases(db, actor, case)
    comparisons = _comparisons(attachments, earlier)
    scope = await review_scope(db, actor, now)
    claimant = await db.get(User, case.claimed_by_id) if case.claimed_by_id else None
    urgency = urgency_of_rank(case.urgency_rank)
    try:
        targets = targets_from_hours(organization.turnaround_hours or {})
        kind: CaseKind | None = CaseKind(case.kind)
    except ValueError:
        targets, kind = {}, None
    record_view(
        db, "case.viewed", context, organization_id=case.organization_id,
        subject_type="case", subject_id=case.id, case_id=case.id,
        details={"patient_id": str(patient.id), "page": "review"},
    )
    today = today_in(organization.time_zone, now=now)
    return CaseFile(
        case=case,
        patient=patient,
        patient_age=age_on(patient.date_of_birth, today),
        organization=organization,
        submitter=submitter,
        attachments=attachments,
        evaluation=evaluation,
        evaluation_author=author,
        addenda=addenda,
        info_requests=info_requests,
        earlier=earlier,
        comparisons=comparisons,
        problems=draft_problems(evaluation, age_on(patient.date_of_birth, case.collected_on
                                                   or today)),
        claimant=claimant,
        held_by_me=holds(case, actor.user_id, now),
        licensed=scope.covers(case),
        urgency=urgency,
        overdue=bool(case.due_at and is_overdue(case.due_at, now)),
        target_hours=turnaround(urgency, targets, kind).total_seconds() / 3600,
        now=now,
        identity_holds=[held_identity(a, patient) for a in every_file if is_held(a)],
        timelines=_timelines(case, attachments, earlier),
    )


async def _earlier_cases(db: AsyncSession, actor: Actor, case: Case) -> list[EarlierCase]:
    """The patient's other cases created before this one (newest first), as far as visible."""
    earlier_cases = list(
        await db.scalars(
            select(Case)
            .where(
                Case.patient_id == case.patient_id,
                Case.id != case.id,
                Case.created_at < case.created_at,
                case_visibility(actor),
            )
            .order_by(Case.created_at.desc())
            .limit(20)
        )
    )
    if not earlier_cases:
        return []
    ids = [c.id for c in earlier_cases]
    by_case: dict[uuid.UUID, list[Attachment]] = defaultdict(list)
    for attachment in await db.scalars(
        select(Attachment).where(Attachment.case_id.in_(ids))
        .order_by(Attachment.created_at, Attachment.id)
    ):
        if not is_held(attachment):
            by_case[attachment.case_id].append(attachment)
    evaluations = {
        e.case_id: e
        for e in await db.scalars(select(Evaluation).where(Evaluation.case_id.in_(ids)))
    }
    return [EarlierCase(c, evaluations.get(c.id), by_case[c.id]) for c in earlier_cases]


def _comparisons(attachments: list[Attachment], earlier: list[EarlierCase]) -> list[Comparison]:
    """For each labelled view of this case, the most recent earlier image of the same view."""
    out: list[Comparison] = []
    for attachment in attachments:
        if attachment.view in {"", "other"} or attachment.kind == "document":
            continue
        for previous in earlier:  # newest first
            match = next(
                (a for a in previous.attachments
                 if a.view == attachment.view and a.kind == attachment.kind),
                None,
            )
            if match is not None:
                out.append(Comparison(attachment.view, attachment, match, previous.case))
                break
    return out


def _taken(case: Case, attachment: Attachment) -> datetime:
    """The image's day: the device's capture time, else when its case was sent or made."""
    moment = attachment.captured_at or case.submitted_at or case.created_at
    return moment.replace(tzinfo=None) if moment.tzinfo else moment


def _timelines(case: Case, attachments: list[Attachment],
               earlier: list[EarlierCase]) -> list[Timeline]:
    """For each labelled view of this case: every image of the same kind and view in this and
    the earlier (visible) cases, ordered by the day it was taken."""
    out: list[Timeline] = []
    seen: set[tuple[str, str]] = set()
    for attachment in attachments:
        key = (attachment.kind, attachment.view)
        if attachment.view in {"", "other"} or attachment.kind == "document" or key in seen:
            continue
        seen.add(key)
        entries = [TimelineEntry(case, a, _taken(case, a), True) for a in attachments
                   if (a.kind, a.view) == key]
        for previous in earlier:
            entries += [TimelineEntry(previous.case, a, _taken(previous.case, a), False)
                        for a in previous.attachments if (a.kind, a.view) == key]
        if len(entries) > 1:
            entries.sort(key=lambda e: (e.taken, str(e.attachment.id)))
            out.append(Timeline(attachment.view, attachment.kind, entries))
    return out
