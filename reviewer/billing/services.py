"""Billing services: claim lines per encounter, their edits under the coding rules, the
worklist, "ready"/"billed"/"nothing to bill", documents and claim packages, live sessions.

Every function takes the acting :class:`reviewer.actor.Actor` and scopes its queries at the
source (anything outside the actor's reach is :class:`NotFound`):

* dentist — the cases whose evaluation they signed, the live sessions they held (read only);
* front_desk — every encounter of their organizations (read, edit, mark, download).

Encounters are a signed case review (asynchronous, D9996) or a live session (synchronous,
D9995); each has its own :class:`EncounterBilling` row and its own documents, and the rules
refuse a line of one encounter on the other.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.billing.facts import (
    CaseFacts,
    LiveFacts,
    load_case_facts,
    load_live_facts,
    local_date,
)
from reviewer.cases.enums import CaseStatus, OriginatingSite
from reviewer.cases.state import CaseAction, transition
from reviewer.coding.rules import (
    ClaimLine,
    Encounter,
    EncounterType,
    InvalidClaimLine,
    RuleViolation,
    Severity,
    ValidationContext,
    blocking,
    context_for_async,
    context_for_live,
    validate_lines,
)
from reviewer.documents.package import ATTACHMENT_NAME, build_claim_package
from reviewer.documents.pdf import render_live_record
from reviewer.errors import Conflict, Forbidden, Invalid, NotFound, Unprocessable
from reviewer.export.csv_safe import csv_text
from storage.audit import AuditContext, record_event
from storage.blobs import BlobStore, new_blob_key
from storage.models import (
    Case,
    ClaimPackage,
    EncounterBilling,
    Evaluation,
    License,
    LiveSession,
    Patient,
    Role,
    User,
)

__all__ = [
    "BillingStatus",
    "EncounterView",
    "LinesRefused",
    "WorklistRow",
    "case_encounter",
    "claim_lines_csv",
    "create_live_session",
    "download_case_document",
    "download_live_document",
    "download_package_file",
    "live_encounter",
    "mark_billed",
    "mark_nothing_to_bill",
    "mark_ready",
    "update_lines",
    "worklist",
]

READERS = frozenset({Role.DENTIST, Role.FRONT_DESK})
EDITORS = frozenset({Role.FRONT_DESK})


class BillingStatus:
    PROPOSED = "proposed"
    READY = "ready"
    BILLED = "billed"
    NOTHING_TO_BILL = "nothing_to_bill"
    OPEN = (PROPOSED, READY)
    ALL = (PROPOSED, READY, BILLED, NOTHING_TO_BILL)


class LinesRefused(Unprocessable):
    """Edited lines that break a coding rule; ``violations`` name each rule and why."""

    code = "claim_lines_refused"

    def __init__(self, violations: Sequence[RuleViolation]) -> None:
        self.violations = list(violations)
        first = "; ".join(f"{v.rule}: {v.message}" for v in self.violations[:3])
        more = f" (and {len(self.violations) - 3} more)" if len(self.violations) > 3 else ""
        super().__init__(f"The claim lines break the coding rules — {first}{more}.")


# --- scope -------------------------------------------------------------------------------------


def _require(actor: Actor, roles: frozenset[Role]) -> None:
    if actor.role not in roles:
        raise Forbidden("Your role cannot do this.")


async def _visible_case(db: AsyncSession, actor: Actor, case_id: uuid.UUID) -> Case:
    _require(actor, READERS)
    query = (
        select(Case)
        .join(Evaluation, Evaluation.case_id == Case.id)
        .where(
            Case.id == case_id,
            Case.organization_id.in_(actor.organization_ids),
            Evaluation.status == "signed",
        )
    )
    if actor.role == Role.DENTIST:
        query = query.where(Evaluation.dentist_id == actor.user_id)
    case = await db.scalar(query) if actor.organization_ids else None
    if case is None:
        raise NotFound("No such signed case.")
    return case


async def _visible_session(db: AsyncSession, actor: Actor, session_id: uuid.UUID) -> LiveSession:
    _require(actor, READERS)
    query = select(LiveSession).where(
        LiveSession.id == session_id, LiveSession.organization_id.in_(actor.organization_ids)
    )
    if actor.role == Role.DENTIST:
        query = query.where(LiveSession.dentist_id == actor.user_id)
    session = await db.scalar(query) if actor.organization_ids else None
    if session is None:
        raise NotFound("No such live session.")
    return session


# --- one encounter -----------------------------------------------------------------------------


@dataclass
class EncounterView:
    """One encounter as billing sees it."""

    encounter: Encounter
    billing: EncounterBilling
    lines: list[ClaimLine]
    violations: list[RuleViolation]
    context: ValidationContext
    case_facts: CaseFacts | None = None
    live_facts: LiveFacts | None = None
    packages: list[ClaimPackage] = field(default_factory=list)

    @property
    def teledentistry_code(self) -> str:
        return "D9996" if self.encounter.type is EncounterType.ASYNCHRONOUS else "D9995"

    @property
    def label(self) -> str:
        if self.encounter.type is EncounterType.ASYNCHRONOUS:
            return "Asynchronous review (store and forward), D9996"
        return "Live session (synchronous), D9995"

    @property
    def patient(self) -> Patient:
        facts = self.case_facts or self.live_facts
        assert facts is not None
        return facts.patient

    @property
    def blocking(self) -> list[RuleViolation]:
        return blocking(self.violations)

    @property
    def warnings(self) -> list[RuleViolation]:
        return [v for v in self.violations if v.severity is Severity.WARNING]


def _lines_from_json(rows: Sequence[Mapping[str, Any]]) -> list[ClaimLine]:
    return [ClaimLine.from_dict(r) for r in rows]


async def _packages(db: AsyncSession, **where: uuid.UUID) -> list[ClaimPackage]:
    column = ClaimPackage.case_id if "case_id" in where else ClaimPackage.live_session_id
    value = next(iter(where.values()))
    return list(
        (
            await db.scalars(
                select(ClaimPackage).where(column == value).order_by(ClaimPackage.version.desc())
            )
        ).all()
    )


def _closed_for(case: Case) -> str:
    """A case closed before billing existed counts as billed; otherwise proposed."""
    return BillingStatus.BILLED if case.status == CaseStatus.CLOSED else BillingStatus.PROPOSED


async def _case_view(
    db: AsyncSession, case: Case, blobs: BlobStore | None = None
) -> EncounterView:
    billing = await db.scalar(select(EncounterBilling).where(EncounterBilling.case_id == case.id))
    stored = _lines_from_json(billing.lines) if billing is not None else None
    facts = await load_case_facts(db, case, blobs=blobs, lines=stored)
    if billing is None:
        billing = EncounterBilling(
            organization_id=case.organization_id,
            case_id=case.id,
            lines=[line.as_dict() for line in facts.proposed],
            status=_closed_for(case),
        )
        db.add(billing)
        await db.flush()
    lines = list(facts.record.lines)
    context = context_for_async(facts.facts, facts.profile, facts.patient_age)
    return EncounterView(
        encounter=Encounter(EncounterType.ASYNCHRONOUS, str(case.id)),
        billing=billing,
        lines=lines,
        violations=validate_lines(lines, context),
        context=context,
        case_facts=facts,
        packages=await _packages(db, case_id=case.id),
    )


async def _live_view(db: AsyncSession, session: LiveSession) -> EncounterView:
    billing = await db.scalar(
        select(EncounterBilling).where(EncounterBilling.live_session_id == session.id)
    )
    stored = _lines_from_json(billing.lines) if billing is not None else None
    facts = await load_live_facts(db, session, lines=stored)
    if billing is None:
        billing = EncounterBilling(
            organization_id=session.organization_id,
            live_session_id=session.id,
            lines=[line.as_dict() for line in facts.proposed],
            status=BillingStatus.PROPOSED,
        )
        db.add(billing)
        await db.flush()
    lines = list(facts.record.lines)
    context = context_for_live(facts.facts, facts.profile, facts.patient_age)
    return EncounterView(
        encounter=Encounter(EncounterType.SYNCHRONOUS, str(session.id)),
        billing=billing,
        lines=lines,
        violations=validate_lines(lines, context),
        context=context,
        live_facts=facts,
        packages=await _packages(db, live_session_id=session.id),
    )



async def case_encounter(
    db: AsyncSession, actor: Actor, ctx: AuditContext, case_id: uuid.UUID
) -> EncounterView:
    """A signed case's billing: its lines (billing's edits, else the proposal) and packages."""
    case = await _visible_case(db, actor, case_id)
    view = await _case_view(db, case)
    await record_event(
        db, "claim_lines.viewed", ctx, organization_id=case.organization_id,
        subject_type="case", subject_id=case.id, details={"encounter": "asynchronous"},
    )
    return view


async def live_encounter(
    db: AsyncSession, actor: Actor, ctx: AuditContext, session_id: uuid.UUID
) -> EncounterView:
    session = await _visible_session(db, actor, session_id)
    view = await _live_view(db, session)
    await record_event(
        db, "claim_lines.viewed", ctx, organization_id=session.organization_id,
        subject_type="live_session", subject_id=session.id, details={"encounter": "synchronous"},
    )
    return view


async def _view_for(
    db: AsyncSession, actor: Actor, kind: EncounterType, encounter_id: uuid.UUID
) -> EncounterView:
    if kind is EncounterType.ASYNCHRONOUS:
        return await _case_view(db, await _visible_case(db, actor, encounter_id))
    if kind is EncounterType.SYNCHRONOUS:
        return await _live_view(db, await _visible_session(db, actor, encounter_id))
    raise NotFound("No such encounter.")


def _subject(view: EncounterView) -> tuple[str, str]:
    if view.encounter.type is EncounterType.ASYNCHRONOUS:
        return "case", view.encounter.id
    return "live_session", view.encounter.id


# --- edits and status ----------------------------------------------------------------------


async def update_lines(
    db: AsyncSession,
    actor: Actor,
    ctx: AuditContext,
    kind: EncounterType,
    encounter_id: uuid.UUID,
    rows: Sequence[Mapping[str, Any]],
) -> EncounterView:
    """Replace an encounter's claim lines with billing's edit, if the coding rules allow it.

    Raises :class:`LinesRefused` (422) naming every rule broken; warnings do not refuse.
    Editing un-readies the encounter (it goes back to ``proposed``).
    """
    _require(actor, EDITORS)
    view = await _view_for(db, actor, kind, encounter_id)
    if view.billing.status not in BillingStatus.OPEN:
        raise Conflict(
            f"These claim lines are {view.billing.status.replace('_', ' ')}: they no longer "
            "change.", code="billing_closed",
        )
    lines: list[ClaimLine] = []
    for index, row in enumerate(rows):
        try:
            lines.append(ClaimLine.from_dict(row))
        except InvalidClaimLine as exc:
            raise InvalidClaimLine(f"line {index + 1}: {exc.message}") from None
    foreign = [
        RuleViolation(
            rule="line_encounter",
            message=(
                f"line {i + 1} belongs to {line.encounter.type} encounter {line.encounter.id}; "
                f"these are the lines of {view.encounter.type} encounter {view.encounter.id} "
                "(an asynchronous review and a live session are billed apart)"
            ),
            line_index=i,
        )
        for i, line in enumerate(lines)
        if line.encounter != view.encounter
    ]
    violations = foreign + validate_lines(lines, view.context)
    refused = blocking(violations)
    if refused:
        raise LinesRefused(refused)
    view.billing.lines = [line.as_dict() for line in lines]
    view.billing.status = BillingStatus.PROPOSED
    view.billing.ready_at = None
    view.billing.edited_by_id = actor.user_id
    view.lines = lines
    view.violations = violations
    subject_type, subject_id = _subject(view)
    await record_event(
        db, "claim_lines.edited", ctx, organization_id=view.billing.organization_id,
        subject_type=subject_type, subject_id=subject_id,
        details={"codes": [line.code for line in lines]},
    )
    await db.flush()
    return view


async def mark_ready(
    db: AsyncSession, actor: Actor, ctx: AuditContext, kind: EncounterType,
    encounter_id: uuid.UUID,
) -> EncounterView:
    """proposed → ready, when no coding rule is broken."""
    _require(actor, EDITORS)
    view = await _view_for(db, actor, kind, encounter_id)
    if view.billing.status != BillingStatus.PROPOSED:
        raise Conflict(
            f"Only proposed lines can be marked ready; these are {view.billing.status}.",
            code="billing_state",
        )
    if view.blocking:
        raise LinesRefused(view.blocking)
    view.billing.status = BillingStatus.READY
    view.billing.ready_at = dt.datetime.now(dt.UTC)
    subject_type, subject_id = _subject(view)
    await record_event(
        db, "encounter_billing.ready", ctx, organization_id=view.billing.organization_id,
        subject_type=subject_type, subject_id=subject_id,
    )
    await db.flush()
    return view


def _close_case(case: Case) -> None:
    case.status = transition(case.status, CaseAction.CLOSE)
    case.closed_at = dt.datetime.now(dt.UTC)


async def mark_billed(
    db: AsyncSession, actor: Actor, ctx: AuditContext, kind: EncounterType,
    encounter_id: uuid.UUID,
) -> EncounterView:
    """ready → billed; a billed case review closes its case."""
    _require(actor, EDITORS)
    view = await _view_for(db, actor, kind, encounter_id)
    if view.billing.status != BillingStatus.READY:
        raise Conflict(
            f"Mark the lines ready to bill first; they are {view.billing.status}.",
            code="billing_state",
        )
    if view.case_facts is not None:
        _close_case(view.case_facts.case)
    view.billing.status = BillingStatus.BILLED
    view.billing.billed_at = dt.datetime.now(dt.UTC)
    subject_type, subject_id = _subject(view)
    await record_event(
        db, "encounter_billing.billed", ctx, organization_id=view.billing.organization_id,
        subject_type=subject_type, subject_id=subject_id,
    )
    await db.flush()
    return view


async def mark_nothing_to_bill(
    db: AsyncSession, actor: Actor, ctx: AuditContext, kind: EncounterType,
    encounter_id: uuid.UUID,
) -> EncounterView:
    """The front desk closes a reviewed case (or a live session) with nothing to bill."""
    _require(actor, EDITORS)
    view = await _view_for(db, actor, kind, encounter_id)
    if view.billing.status not in BillingStatus.OPEN:
        raise Conflict(
            f"These lines are already {view.billing.status.replace('_', ' ')}.",
            code="billing_state",
        )
    if view.case_facts is not None:
        _close_case(view.case_facts.case)
    view.billing.status = BillingStatus.NOTHING_TO_BILL
    subject_type, subject_id = _subject(view)
    await record_event(
        db, "encounter_billing.nothing_to_bill", ctx,
        organization_id=view.billing.organization_id,
        subject_type=subject_type, subject_id=subject_id,
    )
    await db.flush()
    return view


# --- documents and packages ----------------------------------------------------------------


def attachment_control_number(encounter_id: str, version: int) -> str:
    """Stable per encounter and version; no PHI (the 837D PWK06 value)."""
    digest = hashlib.sha256(encounter_id.encode()).hexdigest()[:12].upper()
    return f"TL{digest}V{version:02d}"


def _is_current(latest: ClaimPackage | None, view: EncounterView, signed: dt.datetime) -> bool:
    if latest is None:
        return False
    current = [line.as_dict() for line in view.lines]
    if latest.lines != current:
        return False
    created = latest.created_at if latest.created_at.tzinfo else latest.created_at.replace(
        tzinfo=dt.UTC
    )
    return created >= signed


async def _store(blobs: BlobStore, prefix: str, data: bytes) -> str:
    key = new_blob_key(prefix)
    await blobs.put(key, data)
    return key


async def _current_case_package(
    db: AsyncSession, blobs: BlobStore, actor: Actor, ctx: AuditContext, case: Case
) -> ClaimPackage:
    view = await _case_view(db, case)
    assert view.case_facts is not None
    latest = view.packages[0] if view.packages else None
    if _is_current(latest, view, view.case_facts.latest_signature):
        assert latest is not None
        return latest
    # The pictures are read only when a new version is built.
    facts = await load_case_facts(db, case, blobs=blobs, lines=view.lines)
    version = (latest.version + 1) if latest else 1
    acn = attachment_control_number(str(case.id), version)
    built = build_claim_package(
        facts.record, facts.profile, attachment_control_number=acn, version=version
    )
    # Blobs first, then the row: a crash in between leaves unreferenced blobs (swept), never
    # a row pointing at nothing.
    pdf_key = await _store(blobs, "claim-packages/record", built.record_pdf)
    try:
        zip_key = await _store(blobs, "claim-packages/zip", built.zip_bytes)
    except BaseException:
        await blobs.delete(pdf_key)
        raise
    package = ClaimPackage(
        organization_id=case.organization_id,
        case_id=case.id,
        encounter_type=str(EncounterType.ASYNCHRONOUS),
        version=version,
        attachment_control_number=acn,
        pdf_key=pdf_key,
        pdf_sha256=built.record_sha256,
        zip_key=zip_key,
        zip_sha256=built.zip_sha256,
        zip_size=len(built.zip_bytes),
        lines=[line.as_dict() for line in facts.record.lines],
        created_by_id=actor.user_id,
    )
    db.add(package)
    await db.flush()
    await record_event(
        db, "claim_package.generated", ctx, organization_id=case.organization_id,
        subject_type="case", subject_id=case.id,
        details={"version": version, "package_id": str(package.id), "encounter": "asynchronous"},
    )
    return package


async def _current_live_package(
    db: AsyncSession, blobs: BlobStore, actor: Actor, ctx: AuditContext, session: LiveSession
) -> ClaimPackage:
    view = await _live_view(db, session)
    assert view.live_facts is not None
    latest = view.packages[0] if view.packages else None
    if _is_current(latest, view, session.created_at):
        assert latest is not None
        return latest
    version = (latest.version + 1) if latest else 1
    pdf = render_live_record(view.live_facts.record, version=version)
    pdf_key = await _store(blobs, "claim-packages/record", pdf)
    package = ClaimPackage(
        organization_id=session.organization_id,
        live_session_id=session.id,
        encounter_type=str(EncounterType.SYNCHRONOUS),
        version=version,
        attachment_control_number=attachment_control_number(str(session.id), version),
        pdf_key=pdf_key,
        pdf_sha256=hashlib.sha256(pdf).hexdigest(),
        lines=[line.as_dict() for line in view.lines],
        created_by_id=actor.user_id,
    )
    db.add(package)
    await db.flush()
    await record_event(
        db, "claim_package.generated", ctx, organization_id=session.organization_id,
        subject_type="live_session", subject_id=session.id,
        details={"version": version, "package_id": str(package.id), "encounter": "synchronous"},
    )
    return package


@dataclass(frozen=True)
class Download:
    key: str
    filename: str
    media_type: str
    size: int | None
    package: ClaimPackage


async def download_case_document(
    db: AsyncSession, blobs: BlobStore, actor: Actor, ctx: AuditContext, case_id: uuid.UUID,
    which: str,
) -> Download:
    """``which``: ``"record"`` (documentation.pdf) or ``"zip"`` (claim-attachment.zip).

    Builds a new package version first when the lines changed or an addendum was signed.
    """
    case = await _visible_case(db, actor, case_id)
    package = await _current_case_package(db, blobs, actor, ctx, case)
    return await _download(db, actor, ctx, package, which)


async def download_live_document(
    db: AsyncSession, blobs: BlobStore, actor: Actor, ctx: AuditContext, session_id: uuid.UUID
) -> Download:
    session = await _visible_session(db, actor, session_id)
    package = await _current_live_package(db, blobs, actor, ctx, session)
    return await _download(db, actor, ctx, package, "record")


async def download_package_file(
    db: AsyncSession, actor: Actor, ctx: AuditContext, package_id: uuid.UUID, which: str
) -> Download:
    """A stored version (older ones included) of a package the actor may read."""
    package = await db.get(ClaimPackage, package_id)
    if package is None:
        raise NotFound("No such package.")
    if package.case_id is not None:
        await _visible_case(db, actor, package.case_id)
    elif package.live_session_id is not None:
        await _visible_session(db, actor, package.live_session_id)
    else:
        raise NotFound("No such package.")
    return await _download(db, actor, ctx, package, which)


async def _download(
    db: AsyncSession, actor: Actor, ctx: AuditContext, package: ClaimPackage, which: str
) -> Download:
    code = "D9996" if package.encounter_type == EncounterType.ASYNCHRONOUS else "D9995"
    if which == "record":
        action = "documentation.downloaded"
        result = Download(
            key=package.pdf_key, filename=f"{code}-record-v{package.version}.pdf",
            media_type="application/pdf", size=None, package=package,
        )
    elif which == "zip" and package.zip_key:
        action = "claim_package.downloaded"
        result = Download(
            key=package.zip_key,
            filename=f"claim-attachment-{package.attachment_control_number}.zip",
            media_type="application/zip", size=package.zip_size, package=package,
        )
    else:
        raise NotFound("This encounter has no claim-attachment package.")
    subject = ("case", package.case_id) if package.case_id else (
        "live_session", package.live_session_id
    )
    await record_event(
        db, action, ctx, organization_id=package.organization_id,
        subject_type=subject[0], subject_id=subject[1],
        details={"package_id": str(package.id), "version": package.version,
                 "file": ATTACHMENT_NAME if which == "zip" else f"{code}-record"},
    )
    return result


# --- worklist and export -------------------------------------------------------------------


@dataclass(frozen=True)
class WorklistRow:
    kind: EncounterType
    encounter_id: uuid.UUID
    patient_name: str
    patient_id: uuid.UUID
    when: dt.datetime
    dentist: str
    status: str
    codes: tuple[str, ...]

    @property
    def teledentistry_code(self) -> str:
        return "D9996" if self.kind is EncounterType.ASYNCHRONOUS else "D9995"

    @property
    def path(self) -> str:
        if self.kind is EncounterType.ASYNCHRONOUS:
            return f"/billing/cases/{self.encounter_id}"
        return f"/billing/live-sessions/{self.encounter_id}"


WORKLIST_LIMIT = 100


async def _open_missing_billing(db: AsyncSession, actor: Actor) -> None:
    """Signed cases (and live sessions) without billing rows get their proposed lines now."""
    cases = (
        await db.scalars(
            select(Case)
            .join(Evaluation, Evaluation.case_id == Case.id)
            .outerjoin(EncounterBilling, EncounterBilling.case_id == Case.id)
            .where(
                Case.organization_id.in_(actor.organization_ids),
                Evaluation.status == "signed",
                EncounterBilling.id.is_(None),
            )
            .order_by(Evaluation.signed_at)
            .limit(WORKLIST_LIMIT)
        )
    ).all()
    for case in cases:
        await _case_view(db, case)
    sessions = (
        await db.scalars(
            select(LiveSession)
            .outerjoin(EncounterBilling, EncounterBilling.live_session_id == LiveSession.id)
            .where(
                LiveSession.organization_id.in_(actor.organization_ids),
                EncounterBilling.id.is_(None),
            )
            .limit(WORKLIST_LIMIT)
        )
    ).all()
    for session in sessions:
        await _live_view(db, session)


async def worklist(
    db: AsyncSession, actor: Actor, ctx: AuditContext, statuses: Sequence[str] = BillingStatus.OPEN
) -> list[WorklistRow]:
    """Encounters of the front desk's organizations, oldest first, with their codes."""
    _require(actor, EDITORS)
    if not actor.organization_ids:
        return []
    wanted = [s for s in statuses if s in BillingStatus.ALL] or list(BillingStatus.OPEN)
    await _open_missing_billing(db, actor)
    case_rows = (
        await db.execute(
            select(EncounterBilling, Case, Patient, Evaluation.signed_at, User.display_name)
            .join(Case, Case.id == EncounterBilling.case_id)
            .join(Patient, Patient.id == Case.patient_id)
            .join(Evaluation, Evaluation.case_id == Case.id)
            .join(User, User.id == Evaluation.dentist_id)
            .where(
                EncounterBilling.organization_id.in_(actor.organization_ids),
                EncounterBilling.status.in_(wanted),
            )
            .order_by(Evaluation.signed_at, Case.id)
            .limit(WORKLIST_LIMIT)
        )
    ).all()
    live_rows = (
        await db.execute(
            select(EncounterBilling, LiveSession, Patient, User.display_name)
            .join(LiveSession, LiveSession.id == EncounterBilling.live_session_id)
            .join(Patient, Patient.id == LiveSession.patient_id)
            .join(User, User.id == LiveSession.dentist_id)
            .where(
                EncounterBilling.organization_id.in_(actor.organization_ids),
                EncounterBilling.status.in_(wanted),
            )
            .order_by(LiveSession.ended_at, LiveSession.id)
            .limit(WORKLIST_LIMIT)
        )
    ).all()
    rows = [
        WorklistRow(
            kind=EncounterType.ASYNCHRONOUS, encounter_id=case.id, patient_name=patient.full_name,
            patient_id=patient.id, when=signed_at, dentist=dentist, status=billing.status,
            codes=tuple(str(line.get("code")) for line in billing.lines),
        )
        for billing, case, patient, signed_at, dentist in case_rows
    ] + [
        WorklistRow(
            kind=EncounterType.SYNCHRONOUS, encounter_id=session.id,
            patient_name=patient.full_name, patient_id=patient.id, when=session.ended_at,
            dentist=dentist, status=billing.status,
            codes=tuple(str(line.get("code")) for line in billing.lines),
        )
        for billing, session, patient, dentist in live_rows
    ]
    rows.sort(key=lambda r: (r.when, str(r.encounter_id)))
    for org_id in sorted(actor.organization_ids):
        await record_event(
            db, "billing_worklist.viewed", ctx, organization_id=org_id,
            subject_type="organization", subject_id=org_id, details={"rows": len(rows)},
        )
    return rows


CSV_HEADER = (
    "encounter_type", "encounter_id", "teledentistry_code", "billing_status", "patient_reference",
    "patient_name", "member_id", "code", "provider_npi", "provider_name", "provider_role",
    "date_of_service", "tooth", "surfaces", "quantity", "place_of_service",
)


async def claim_lines_csv(
    db: AsyncSession, actor: Actor, ctx: AuditContext, statuses: Sequence[str] = BillingStatus.OPEN
) -> str:
    """Every claim line of the worklist as CSV; no cell can become a spreadsheet formula."""
    _require(actor, EDITORS)
    if not actor.organization_ids:
        return csv_text(CSV_HEADER, [])
    wanted = [s for s in statuses if s in BillingStatus.ALL] or list(BillingStatus.OPEN)
    await _open_missing_billing(db, actor)
    result = await db.execute(
        select(EncounterBilling, Patient)
        .outerjoin(Case, Case.id == EncounterBilling.case_id)
        .outerjoin(LiveSession, LiveSession.id == EncounterBilling.live_session_id)
        .join(
            Patient,
            or_(
                and_(EncounterBilling.case_id.is_not(None), Patient.id == Case.patient_id),
                and_(
                    EncounterBilling.live_session_id.is_not(None),
                    Patient.id == LiveSession.patient_id,
                ),
            ),
        )
        .where(
            EncounterBilling.organization_id.in_(actor.organization_ids),
            EncounterBilling.status.in_(wanted),
        )
        .order_by(EncounterBilling.created_at, EncounterBilling.id)
    )
    rows: list[list[object]] = []
    count = 0
    for billing, patient in result.all():
        count += 1
        for raw in billing.lines:
            line = ClaimLine.from_dict(raw)
            rows.append([
                line.encounter.type, line.encounter.id,
                "D9996" if line.encounter.type is EncounterType.ASYNCHRONOUS else "D9995",
                billing.status, patient.id, patient.full_name, patient.member_id or "",
                line.code, line.provider.npi, line.provider.name, line.provider.role,
                line.date_of_service.isoformat(), line.tooth or "", line.surfaces or "",
                line.quantity, line.place_of_service,
            ])
    for org_id in sorted(actor.organization_ids):
        await record_event(
            db, "claim_lines.exported", ctx, organization_id=org_id,
            subject_type="organization", subject_id=org_id,
            details={"encounters": count, "lines": len(rows)},
        )
    return csv_text(CSV_HEADER, rows)


# --- live sessions -------------------------------------------------------------------------


def _moment(data: Mapping[str, Any], key: str) -> dt.datetime:
    value = data.get(key)
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise Invalid(
                f"{key} is not an ISO 8601 date and time", code="invalid_live_session"
            ) from None
    else:
        raise Invalid(f"{key} is required (ISO 8601 date and time)", code="invalid_live_session")
    if moment.tzinfo is None:
        raise Invalid(f"{key} needs a time zone (e.g. Z or +00:00)", code="invalid_live_session")
    return moment.astimezone(dt.UTC)


def _uuid(value: Any, key: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise Invalid(f"{key} is not an id", code="invalid_live_session") from None


async def create_live_session(
    db: AsyncSession, actor: Actor, ctx: AuditContext, data: Mapping[str, Any]
) -> EncounterView:
    """Record a live (D9995) session the acting dentist held.

    ``data``: ``patient_id``, ``case_id`` (optional: the case it escalates; that case keeps its
    asynchronous review), ``scheduled_at``, ``started_at``, ``ended_at`` (ISO 8601 with a zone),
    ``participants`` ([{"name", "role"}]), ``platform``, ``notes``; optional ``patient_site``
    (home | school | office | other; default the case's site, else home) and ``evaluation``
    ({"findings", "diagnosis", "advice", "problem_status": "new"|"established",
    "procedures": [{"code", "tooth", "surfaces", "rationale"}]}).
    """
    if actor.role != Role.DENTIST:
        raise Forbidden("Only the dentist who held a live session records it.")
    if "patient_id" not in data:
        raise Invalid("patient_id is required", code="invalid_live_session")
    patient_id = _uuid(data["patient_id"], "patient_id")
    patient = await db.scalar(
        select(Patient).where(
            Patient.id == patient_id, Patient.organization_id.in_(actor.organization_ids)
        )
    ) if actor.organization_ids else None
    if patient is None:
        raise NotFound("No such patient.")
    case: Case | None = None
    if data.get("case_id"):
        case_id = _uuid(data["case_id"], "case_id")
        case = await db.scalar(
            select(Case).where(Case.id == case_id, Case.organization_id == patient.organization_id)
        )
        if case is None or case.patient_id != patient.id:
            raise NotFound("No such case for this patient.")
    scheduled = _moment(data, "scheduled_at")
    started = _moment(data, "started_at")
    ended = _moment(data, "ended_at")
    if ended <= started:
        raise Invalid("ended_at must be after started_at", code="invalid_live_session")
    if ended > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5):
        raise Invalid("a live session is recorded after it ended", code="invalid_live_session")
    participants = data.get("participants") or []
    if not isinstance(participants, list) or not all(
        isinstance(p, Mapping) and isinstance(p.get("name"), str) and p.get("name")
        for p in participants
    ):
        raise Invalid('participants is a list of {"name", "role"}', code="invalid_live_session")
    platform = str(data.get("platform") or "").strip()
    if not platform:
        raise Invalid("platform is required (what the session ran on)",
                      code="invalid_live_session")
    site_text = str(data.get("patient_site") or (case.location_site if case else "home"))
    try:
        site = OriginatingSite(site_text)
    except ValueError:
        raise Invalid("patient_site is home, school, office or other",
                      code="invalid_live_session") from None
    evaluation = data.get("evaluation") or {}
    if not isinstance(evaluation, Mapping):
        raise Invalid("evaluation must be an object", code="invalid_live_session")
    state = case.location_state if case else patient.state
    licensed = await db.scalar(
        select(func.count()).select_from(License).where(
            License.user_id == actor.user_id, License.state == state,
            License.expires_on >= local_date(started, "UTC"),
        )
    )
    if not licensed:
        raise Forbidden(
            f"You hold no current license in {state or 'the patient state'}, where the patient "
            "was.", code="not_licensed",
        )
    session = LiveSession(
        organization_id=patient.organization_id,
        patient_id=patient.id,
        case_id=case.id if case else None,
        dentist_id=actor.user_id,
        scheduled_at=scheduled,
        started_at=started,
        ended_at=ended,
        participants=[
            {"name": str(p["name"])[:200], "role": str(p.get("role", ""))[:100]}
            for p in participants
        ],
        platform=platform[:100],
        notes=str(data.get("notes") or ""),
        evaluation=dict(evaluation),
        patient_site=str(site),
        patient_state=state,
        created_by_id=actor.user_id,
    )
    db.add(session)
    await db.flush()
    await db.refresh(session)
    view = await _live_view(db, session)
    await record_event(
        db, "live_session.created", ctx, organization_id=session.organization_id,
        subject_type="live_session", subject_id=session.id,
        details={"case_id": str(case.id) if case else None},
    )
    return view
