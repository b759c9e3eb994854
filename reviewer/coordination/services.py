"""Coordination work logged on a patient, and its D9991/D9992/D9997 documentation and lines.

Who: a coordinator logs work for their organizations' patients; a dentist for the patients of
the reviews they signed; the front desk reads (documentation, claim lines) and marks billed.
Sharing information with another provider (a dentist, a specialist, a physician) needs the
patient's current ``information_sharing`` consent: without it the activity is refused (409
``consent_required``).

The coding rules are ``reviewer.coding.case_management``; this module only turns rows into
their plain :class:`~reviewer.coding.case_management.CoordinationActivity` records.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.access import patient_visibility
from reviewer.actor import Actor
from reviewer.billing.facts import payer_profile_for, provider_of
from reviewer.clock import local_date
from reviewer.coding import case_management as cm
from reviewer.coding.rules import ClaimLine, RuleViolation
from reviewer.consent_forms import INFORMATION_SHARING
from reviewer.coordination.documents import CoordinationRecord, render_coordination_record
from reviewer.documents.model import PatientIdentity, Practice
from reviewer.errors import Conflict, Forbidden, Invalid, NotFound
from reviewer.intake.consents import current_consent, has_current_consent
from storage.audit import AuditContext, record_event
from storage.models import (
    Case,
    CoordinationActivity,
    Evaluation,
    Organization,
    Patient,
    Referral,
    Role,
    User,
)

__all__ = [
    "CoordinationReport",
    "NewActivity",
    "activity_json",
    "documentation",
    "list_activities",
    "log_activity",
    "mark_billed",
]

LOGGERS = frozenset({Role.COORDINATOR, Role.DENTIST})
READERS = frozenset({Role.COORDINATOR, Role.DENTIST, Role.FRONT_DESK})
SHARING_COUNTERPARTS = frozenset({cm.Counterpart.PROVIDER, cm.Counterpart.PHYSICIAN})


def _now(now: dt.datetime | None) -> dt.datetime:
    return now if now is not None else dt.datetime.now(dt.UTC)


def _own_review_patients(actor: Actor) -> ColumnElement[bool]:
    return Patient.id.in_(
        select(Case.patient_id).join(Evaluation, Evaluation.case_id == Case.id)
        .where(Evaluation.dentist_id == actor.user_id, Evaluation.status == "signed")
    )


async def _patient(db: AsyncSession, actor: Actor, patient_id: uuid.UUID,
                   roles: frozenset[Role]) -> Patient:
    if actor.role not in roles:
        raise Forbidden("Your role cannot do this.")
    query = select(Patient).where(Patient.id == patient_id, patient_visibility(actor))
    if actor.role == Role.DENTIST:
        query = query.where(_own_review_patients(actor))
    patient = await db.scalar(query)
    if patient is None:
        raise NotFound("No such patient.")
    return patient


@dataclass(frozen=True)
class NewActivity:
    kind: cm.CaseManagementKind
    description: str
    minutes: int
    necessity: str
    barrier: cm.Barrier | None = None
    counterparts: frozenset[cm.Counterpart] = frozenset()
    outcome: str = ""
    performed_on: dt.date | None = None
    referral_id: uuid.UUID | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NewActivity:
        try:
            kind = cm.CaseManagementKind(str(data.get("kind", "")))
        except ValueError:
            kinds = ", ".join(k.value for k in cm.CaseManagementKind)
            raise Invalid(f"kind is one of {kinds}.", code="invalid_kind") from None
        try:
            barrier = cm.Barrier(str(data["barrier"])) if data.get("barrier") else None
        except ValueError:
            barriers = ", ".join(b.value for b in cm.Barrier)
            raise Invalid(f"barrier is one of {barriers}.", code="invalid_barrier") from None
        raw = data.get("counterpart") or data.get("with_whom") or []
        names = [raw] if isinstance(raw, str) else list(raw)
        try:
            counterparts = frozenset(cm.Counterpart(str(n)) for n in names if n)
        except ValueError:
            whom = ", ".join(c.value for c in cm.Counterpart)
            raise Invalid(f"counterpart is one of {whom}.", code="invalid_counterpart") from None
        minutes = data.get("minutes")
        if isinstance(minutes, str) and minutes.strip().isdigit():
            minutes = int(minutes)
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 < minutes <= 1440:
            raise Invalid("minutes is the time spent, a whole number from 1 to 1440.",
                          code="invalid_minutes")
        description = str(data.get("description") or "").strip()
        if not description:
            raise Invalid("Describe what was done (description).", code="description_required")
        performed_on = None
        if data.get("performed_on"):
            try:
                performed_on = dt.date.fromisoformat(str(data["performed_on"]))
            except ValueError:
                raise Invalid("performed_on is a date (YYYY-MM-DD).",
                              code="invalid_performed_on") from None
        referral_id = None
        if data.get("referral_id"):
            try:
                referral_id = uuid.UUID(str(data["referral_id"]))
            except ValueError:
                raise Invalid("referral_id is not an id.", code="invalid_referral_id") from None
        return cls(
            kind=kind, description=description[:4000], minutes=minutes,
            necessity=str(data.get("necessity") or "").strip()[:4000], barrier=barrier,
            counterparts=counterparts, outcome=str(data.get("outcome") or "").strip()[:4000],
            performed_on=performed_on, referral_id=referral_id,
        )


def _counterpart_text(counterparts: frozenset[cm.Counterpart]) -> str:
    return ",".join(sorted(c.value for c in counterparts))


def _counterparts(row: CoordinationActivity) -> frozenset[cm.Counterpart]:
    return frozenset(cm.Counterpart(c) for c in row.counterpart.split(",") if c)


async def log_activity(
    db: AsyncSession, actor: Actor, ctx: AuditContext, patient_id: uuid.UUID, new: NewActivity,
    *, now: dt.datetime | None = None,
) -> CoordinationActivity:
    moment = _now(now)
    patient = await _patient(db, actor, patient_id, LOGGERS)
    org = await db.get_one(Organization, patient.organization_id)
    today = local_date(moment, org.time_zone)
    performed_on = new.performed_on or today
    if performed_on > today:
        raise Invalid("Coordination work is logged once it was done (performed_on).",
                      code="invalid_performed_on")
    if new.counterparts & SHARING_COUNTERPARTS and not await has_current_consent(
        db, patient.id, INFORMATION_SHARING
    ):
        raise Conflict(
            "Sharing the patient's information with another provider needs the patient's "
            "consent to share information; record it first.", code="consent_required",
        )
    if new.referral_id is not None:
        referral = await db.scalar(
            select(Referral.id).where(Referral.id == new.referral_id,
                                      Referral.patient_id == patient.id)
        )
        if referral is None:
            raise NotFound("No such referral for this patient.", code="referral_not_found")
    row = CoordinationActivity(
        organization_id=patient.organization_id, patient_id=patient.id,
        referral_id=new.referral_id, kind=str(new.kind),
        barrier=str(new.barrier) if new.barrier else "", description=new.description,
        counterpart=_counterpart_text(new.counterparts)[:32], minutes=new.minutes,
        outcome=new.outcome, necessity=new.necessity, performed_on=performed_on,
        performed_by_id=actor.user_id,
    )
    db.add(row)
    await db.flush()
    await record_event(
        db, "coordination_activity.logged", ctx, organization_id=patient.organization_id,
        subject_type="patient", subject_id=patient.id,
        details={"activity_id": str(row.id), "kind": row.kind, "minutes": row.minutes,
                 "code": cm.CODE_FOR_KIND[new.kind]},
    )
    return row


async def _rows(
    db: AsyncSession, patient: Patient, start: dt.date | None, end: dt.date | None
) -> list[CoordinationActivity]:
    query = select(CoordinationActivity).where(CoordinationActivity.patient_id == patient.id,
                                               CoordinationActivity.organization_id
                                               == patient.organization_id)
    if start:
        query = query.where(CoordinationActivity.performed_on >= start)
    if end:
        query = query.where(CoordinationActivity.performed_on <= end)
    rows = await db.scalars(
        query.order_by(CoordinationActivity.performed_on, CoordinationActivity.created_at)
    )
    return list(rows.all())


async def list_activities(
    db: AsyncSession, actor: Actor, ctx: AuditContext, patient_id: uuid.UUID,
    start: dt.date | None = None, end: dt.date | None = None,
) -> tuple[Patient, list[CoordinationActivity]]:
    patient = await _patient(db, actor, patient_id, READERS)
    rows = await _rows(db, patient, start, end)
    await record_event(
        db, "coordination_activity.listed", ctx, organization_id=patient.organization_id,
        subject_type="patient", subject_id=patient.id, details={"count": len(rows)},
    )
    return patient, rows


async def _plain(
    db: AsyncSession, patient: Patient, rows: Sequence[CoordinationActivity]
) -> list[cm.CoordinationActivity]:
    """Rows as the coding rules' records. Special health care needs: an activity of this
    patient whose barrier is ``special_needs`` documents them (until the patient record has
    its own flag)."""
    consent = await has_current_consent(db, patient.id, INFORMATION_SHARING)
    special = bool(
        await db.scalar(
            select(CoordinationActivity.id).where(
                CoordinationActivity.patient_id == patient.id,
                CoordinationActivity.barrier == cm.Barrier.SPECIAL_NEEDS,
            ).limit(1)
        )
    )
    users: dict[uuid.UUID, User] = {}
    out = []
    for row in rows:
        if row.performed_by_id not in users:
            users[row.performed_by_id] = await db.get_one(User, row.performed_by_id)
        user = users[row.performed_by_id]
        out.append(cm.CoordinationActivity(
            activity_id=str(row.id), patient_id=str(row.patient_id),
            kind=cm.CaseManagementKind(row.kind), date=row.performed_on,
            performed_by=provider_of(user),
            minutes=row.minutes, necessity=row.necessity, what_was_done=row.description,
            barrier=cm.Barrier(row.barrier) if row.barrier else None,
            with_whom=_counterparts(row), outcome=row.outcome,
            special_health_care_needs=special, information_sharing_consent=consent,
        ))
    return out


async def _consent_text(db: AsyncSession, patient: Patient) -> str:
    consent = await current_consent(db, patient.id, INFORMATION_SHARING)
    if consent is None:
        return ("Not on file: nothing was shared with another provider or a physician "
                "(sharing needs this consent).")
    who = consent.given_by_name or consent.given_by
    return (f"On file: {consent.form} version {consent.version}, accepted by {who} "
            f"({consent.given_by}) on {consent.accepted_at.date().isoformat()} "
            f"({consent.method}).")


@dataclass(frozen=True)
class CoordinationReport:
    patient: Patient
    activities: tuple[cm.CoordinationActivity, ...]
    minutes_by_code: dict[str, int]
    lines: tuple[ClaimLine, ...]
    not_billed: tuple[RuleViolation, ...]
    pdf: bytes

    def as_dict(self) -> dict[str, Any]:
        return {
            "patient_id": str(self.patient.id),
            "minutes_by_code": self.minutes_by_code,
            "total_minutes": sum(self.minutes_by_code.values()),
            "lines": [line.as_dict() for line in self.lines],
            "not_billed": [v.as_dict() for v in self.not_billed],
            "activities": [a.activity_id for a in self.activities],
        }


async def _proposed(
    db: AsyncSession, patient: Patient, rows: Sequence[CoordinationActivity]
) -> tuple[list[cm.CoordinationActivity], list[ClaimLine], list[RuleViolation]]:
    """The rows as the coding rules' records, and the lines of those not billed yet (what was
    billed before is the rules' history)."""
    plain = await _plain(db, patient, rows)
    billed_rows = [r for r in await _rows(db, patient, None, None) if r.billed_at is not None]
    billed = await _plain(db, patient, billed_rows)
    history = [
        cm.BilledCaseManagement(patient_id=a.patient_id, code=a.code, date_of_service=a.date,
                                activity_ids=frozenset({a.activity_id}),
                                what_was_done=(a.what_was_done,))
        for a in billed
    ]
    unbilled = [a for a, r in zip(plain, rows, strict=True) if r.billed_at is None]
    profile = await payer_profile_for(db, patient.organization_id, patient.payer_name)
    lines, violations = cm.propose_case_management_lines(unbilled, history, profile)
    return plain, lines, violations


WORKLIST_PATIENTS = 50


@dataclass(frozen=True)
class CaseManagementRow:
    """A patient's case-management lines not billed yet, for the billing worklist."""

    patient: Patient
    lines: tuple[ClaimLine, ...]
    not_billed: int


async def unbilled_case_management(
    db: AsyncSession, actor: Actor, ctx: AuditContext
) -> list[CaseManagementRow]:
    """For the front desk: each patient of their organizations with coordination work not
    billed yet, and its proposed D9991-D9997 lines (each on its performer, with the
    performer's NPI). At most :data:`WORKLIST_PATIENTS` patients, oldest work first."""
    if actor.role != Role.FRONT_DESK or not actor.organization_ids:
        return []
    patient_ids = list((await db.scalars(
        select(CoordinationActivity.patient_id)
        .where(CoordinationActivity.organization_id.in_(actor.organization_ids),
               CoordinationActivity.billed_at.is_(None))
        .group_by(CoordinationActivity.patient_id)
        .order_by(func.min(CoordinationActivity.performed_on))
        .limit(WORKLIST_PATIENTS)
    )).all())
    out: list[CaseManagementRow] = []
    for patient_id in patient_ids:
        patient = await db.get_one(Patient, patient_id)
        rows = [r for r in await _rows(db, patient, None, None) if r.billed_at is None]
        _, lines, violations = await _proposed(db, patient, rows)
        out.append(CaseManagementRow(patient, tuple(lines), len(violations)))
    for org_id in sorted(actor.organization_ids):
        await record_event(
            db, "case_management_worklist.viewed", ctx, organization_id=org_id,
            subject_type="organization", subject_id=org_id, details={"patients": len(out)},
        )
    return out


async def documentation(
    db: AsyncSession, actor: Actor, ctx: AuditContext, patient_id: uuid.UUID,
    start: dt.date | None = None, end: dt.date | None = None, *, now: dt.datetime | None = None,
) -> CoordinationReport:
    """The D9991/D9992/D9997 documentation of a period: minutes per code, claim lines (the
    coding rules, with what was billed before as history), and the PDF."""
    moment = _now(now)
    patient = await _patient(db, actor, patient_id, READERS)
    report = await build_documentation(db, patient, start, end, now=moment)
    await record_event(
        db, "coordination_documentation.generated", ctx, organization_id=patient.organization_id,
        subject_type="patient", subject_id=patient.id,
        details={"activities": len(report.activities), "lines": len(report.lines),
                 "minutes": sum(report.minutes_by_code.values())},
    )
    return report


async def build_documentation(
    db: AsyncSession, patient: Patient, start: dt.date | None = None,
    end: dt.date | None = None, *, now: dt.datetime,
) -> CoordinationReport:
    """The documentation of ``patient`` (already in the caller's scope: its organization's
    activities only) for a period, with the PDF; not audited (the caller audits). Also what
    the records desk puts in an "all records" copy."""
    moment = now
    org = await db.get_one(Organization, patient.organization_id)
    rows = await _rows(db, patient, start, end)
    plain, lines, violations = await _proposed(db, patient, rows)
    totals = cm.minutes_by_code(plain)
    address = ", ".join(
        x for x in (org.address_line, org.city, f"{org.state} {org.postal_code}".strip()) if x
    )
    record = CoordinationRecord(
        practice=Practice(name=org.name, npi=org.npi or "", address=address, phone=org.phone,
                          time_zone=org.time_zone or "UTC"),
        patient=PatientIdentity(reference=str(patient.id), name=patient.full_name,
                                date_of_birth=patient.date_of_birth,
                                payer_name=patient.payer_name or "",
                                member_id=patient.member_id or ""),
        period=(start, end), activities=tuple(plain), minutes_by_code=totals,
        lines=tuple(lines), not_billed=tuple(violations), generated_at=moment,
        outcomes={str(r.id): r.outcome for r in rows},
        counterparts={str(r.id): r.counterpart.replace(",", ", ") for r in rows},
        consent=await _consent_text(db, patient),
        recorded_at={str(r.id): r.created_at for r in rows},
    )
    pdf = await anyio.to_thread.run_sync(render_coordination_record, record)  # fpdf2: a thread
    return CoordinationReport(patient, tuple(plain), totals, tuple(lines), tuple(violations),
                              pdf)


async def mark_billed(
    db: AsyncSession, actor: Actor, ctx: AuditContext, patient_id: uuid.UUID,
    activity_ids: Sequence[uuid.UUID], *, now: dt.datetime | None = None,
) -> int:
    """The front desk billed these activities' lines: they become history for the rules."""
    if actor.role != Role.FRONT_DESK:
        raise Forbidden("The front desk marks coordination work billed.")
    moment = _now(now)
    patient = await _patient(db, actor, patient_id, frozenset({Role.FRONT_DESK}))
    rows = [r for r in await _rows(db, patient, None, None) if r.id in set(activity_ids)]
    if len(rows) != len(set(activity_ids)):
        raise NotFound("No such activity for this patient.")
    for row in rows:
        if row.billed_at is not None:
            raise Conflict("An activity was billed already.", code="already_billed")
        row.billed_at = moment
    await record_event(
        db, "coordination_activity.billed", ctx, organization_id=patient.organization_id,
        subject_type="patient", subject_id=patient.id,
        details={"activities": [str(r.id) for r in rows]},
    )
    return len(rows)


def activity_json(row: CoordinationActivity) -> dict[str, Any]:
    return {
        "id": str(row.id), "patient_id": str(row.patient_id),
        "referral_id": str(row.referral_id) if row.referral_id else None,
        "kind": row.kind, "code": cm.CODE_FOR_KIND[cm.CaseManagementKind(row.kind)],
        "barrier": row.barrier or None, "description": row.description,
        "counterpart": [c for c in row.counterpart.split(",") if c], "minutes": row.minutes,
        "outcome": row.outcome, "necessity": row.necessity,
        "performed_on": row.performed_on.isoformat(),
        "performed_by_id": str(row.performed_by_id),
        "billed_at": row.billed_at.isoformat() if row.billed_at else None,
    }
