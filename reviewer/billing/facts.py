"""From database rows to the plain facts the coding rules and the documents read.

Loads one signed case (or one live session) with everything around it and builds
:class:`reviewer.coding.rules.AsyncReviewFacts` / ``LiveSessionFacts`` for the rules and
:class:`reviewer.documents.model.AsyncRecord` / ``LiveRecord`` for the PDFs. No rules here.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.billing.record_notes import (
    collected_span,
    collector_license,
    record_consents,
    recorded_distant_site,
)
from reviewer.cases.enums import CaseKind, OriginatingSite
from reviewer.clock import age_on, local_date
from reviewer.coding.catalog import is_known_code, load_catalog
from reviewer.coding.payer import DEFAULT_PROFILE, PayerProfile
from reviewer.coding.proposal import PhotoSet
from reviewer.coding.rules import (
    AsyncReviewFacts,
    ClaimLine,
    LiveSessionFacts,
    OnSiteVisit,
    ProblemStatus,
    Provider,
    ProviderRole,
    RadiographKind,
    RadiographSet,
    RecommendedProcedure,
    ServiceDelivered,
)
from reviewer.documents.model import (
    AddendumNote,
    AsyncRecord,
    Clinician,
    GatheredItem,
    LiveRecord,
    Participant,
    PatientIdentity,
    Practice,
    Recommendation,
    Site,
)
from reviewer.documents.review_section import review_of_item
from reviewer.errors import Conflict
from reviewer.evaluation.annotations import chosen_annotations
from reviewer.patients.history import history_rows
from reviewer.vocabulary import AttachmentKind, radiograph_kind_by_view
from storage.blobs import BlobStore
from storage.models import (
    Addendum,
    Attachment,
    Case,
    Evaluation,
    License,
    LiveSession,
    Organization,
    Patient,
    PayerProfileRecord,
    ScreeningEvent,
    User,
)

__all__ = [
    "CaseFacts",
    "LiveFacts",
    "age_on",
    "load_case_facts",
    "load_live_facts",
    "local_date",
    "payer_profile_for",
]

RADIOGRAPH_KIND_BY_VIEW: Mapping[str, RadiographKind] = radiograph_kind_by_view()
"""An attachment's view → the radiograph kind, from the one list of views intake accepts
(:data:`reviewer.vocabulary.ATTACHMENT_VIEWS`): a ``bitewing`` is D0708, a ``panoramic``
D0701...; a radiograph whose view names no kind (``other``) counts as periapical."""


def _taker(uploader: User | None) -> Provider | None:
    """Who took an image, as a provider: staff with an NPI who uploaded it; else nobody here."""
    if uploader is not None and uploader.role in {"hygienist", "dentist"} and uploader.npi:
        return provider_of(uploader)
    return None


def _photo_sets(
    attachments: Sequence[Attachment], uploaders: Mapping[uuid.UUID, User], fallback: dt.date
) -> tuple[PhotoSet, ...]:
    """The photos staff took on site, by day and provider (D0703 where the payer bills it)."""
    counts: dict[tuple[dt.date, Provider], int] = defaultdict(int)
    for a in attachments:
        taker = _taker(uploaders.get(a.uploaded_by_id))
        if a.kind == AttachmentKind.PHOTO and taker is not None:
            counts[(a.captured_at.date() if a.captured_at else fallback, taker)] += 1
    return tuple(PhotoSet(captured_on=d, captured_by=p, images=n) for (d, p), n in counts.items())


def case_problem(case: Case) -> ProblemStatus:
    """The case's problem status: ``Case.problem`` (the patient's answer, as the dentist may
    have corrected it); for a case from before that column, the questionnaire's answer
    (``problem``, or the older ``problem_status``), else new."""
    answers: Mapping[str, Any] = case.questionnaire or {}
    for value in (case.problem, answers.get("problem"), answers.get("problem_status")):
        text = str(value or "").lower()
        if text in set(ProblemStatus):
            return ProblemStatus(text)
    return ProblemStatus.NEW

HISTORY_KEYS = ("medical_history", "medications", "allergies", "history", "previous_treatment")
"""Questionnaire answers that are history rather than the complaint."""

NOT_STARTED = "not recorded"


class NotSigned(Conflict):
    code = "not_signed"


async def payer_profile_record_for(
    db: AsyncSession, organization_id: uuid.UUID, payer_name: str | None
) -> PayerProfileRecord | None:
    """The stored profile of the patient's payer, else the organization's default, else None."""
    rows = (
        await db.scalars(
            select(PayerProfileRecord).where(PayerProfileRecord.organization_id == organization_id)
        )
    ).all()
    chosen = next((r for r in rows if payer_name and r.name == payer_name), None)
    if chosen is None:
        chosen = next((r for r in rows if r.is_default), None)
    return chosen


async def payer_profile_for(
    db: AsyncSession, organization_id: uuid.UUID, payer_name: str | None
) -> PayerProfile:
    """The patient's payer's profile, else the organization's default, else the built-in one."""
    chosen = await payer_profile_record_for(db, organization_id, payer_name)
    if chosen is None:
        return DEFAULT_PROFILE
    return PayerProfile.from_dict({"name": chosen.name, **(chosen.rules or {})})


def _practice(org: Organization) -> Practice:
    address = ", ".join(
        x for x in (org.address_line, org.city, f"{org.state} {org.postal_code}".strip()) if x
    )
    return Practice(
        name=org.name, npi=org.npi or "", address=address, phone=org.phone,
        time_zone=org.time_zone or "UTC", address_line=org.address_line or "",
        city=org.city or "", state=org.state or "", postal_code=org.postal_code or "",
    )


def _patient(p: Patient) -> PatientIdentity:
    address = ", ".join(
        x for x in (p.address_line, p.city, f"{p.state} {p.postal_code}".strip()) if x
    )
    return PatientIdentity(
        reference=str(p.id),
        name=p.full_name,
        date_of_birth=p.date_of_birth,
        address=address,
        payer_name=p.payer_name or "",
        member_id=p.member_id or "",
        guardian_name=p.guardian_name or "",
        student_id=p.student_id or "",
        school=p.school or "",
        first_name=p.first_name, last_name=p.last_name, phone=p.phone or "",
        address_line=p.address_line or "", city=p.city or "", state=p.state or "",
        postal_code=p.postal_code or "",
    )


async def _license(db: AsyncSession, user_id: uuid.UUID, state: str) -> str:
    row = await db.scalar(
        select(License).where(License.user_id == user_id, License.state == state)
    )
    if row is None:
        row = await db.scalar(select(License).where(License.user_id == user_id).limit(1))
    return f"{row.state} {row.number} (expires {row.expires_on.isoformat()})" if row else ""


def provider_of(user: User) -> Provider:
    """The user as a claim-line provider (a role that is no provider role: other)."""
    try:
        role = ProviderRole(user.role)
    except ValueError:
        role = ProviderRole.OTHER
    return Provider(npi=user.npi or "", name=user.display_name or user.email, role=role,
                    user_id=str(user.id))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {_text(v)}" for k, v in value.items())
    return str(value)


def _label(key: str) -> str:
    return key.replace("_", " ").capitalize()


def _recommendations(
    procedures: Sequence[Mapping[str, Any]], diagnosis: str
) -> tuple[tuple[Recommendation, ...], tuple[RecommendedProcedure, ...]]:
    recs: list[Recommendation] = []
    plan: list[RecommendedProcedure] = []
    for row in procedures:
        code = str(row.get("code") or "").strip().upper()
        if not code:
            continue
        tooth = row.get("tooth") or None
        surfaces = row.get("surfaces") or None
        rationale = str(row.get("rationale") or row.get("reason") or "").strip()
        recs.append(
            Recommendation(
                code=code,
                descriptor=load_catalog().get(code).descriptor if is_known_code(code) else "",
                tooth=tooth,
                surfaces=surfaces,
                rationale=rationale or (f"per the diagnosis: {diagnosis}" if diagnosis else ""),
            )
        )
        plan.append(RecommendedProcedure(code=code, tooth=tooth, surfaces=surfaces))
    return tuple(recs), tuple(plan)


def _referral(referral: Mapping[str, Any] | None) -> str:
    if not referral:
        return ""
    to = referral.get("specialty") or referral.get("to") or ""
    reason = referral.get("reason") or ""
    return f"to {to}: {reason}" if to else str(reason)


def _follow_up(days: int | None) -> str:
    if days is None:
        return ""
    return "none needed" if days == 0 else f"in {days} day(s)"


@dataclass(frozen=True)
class CaseFacts:
    """A signed case with everything billing needs."""

    case: Case
    evaluation: Evaluation
    patient: Patient
    organization: Organization
    dentist: User
    profile: PayerProfile
    facts: AsyncReviewFacts
    record: AsyncRecord
    """Its ``lines`` are the proposed lines; the services swap in billing's edited ones."""
    proposed: tuple[ClaimLine, ...]
    patient_age: int
    latest_signature: dt.datetime


@dataclass(frozen=True)
class LiveFacts:
    session: LiveSession
    patient: Patient
    organization: Organization
    dentist: User
    profile: PayerProfile
    facts: LiveSessionFacts
    record: LiveRecord
    proposed: tuple[ClaimLine, ...]
    patient_age: int


def _site(kind: str, description: str, state: str) -> Site:
    return Site(kind=kind, description=description, state=state)


def _originating(case_site: str, state: str, patient: Patient, org: Organization,
                 school: str | None) -> Site:
    if case_site == OriginatingSite.HOME:
        address = _patient(patient).address or "address not on file"
        return _site("home", f"the patient's home, {address}", state)
    if case_site == OriginatingSite.SCHOOL:
        return _site("school", school or patient.school or "school not named", state)
    if case_site == OriginatingSite.OFFICE:
        return _site("office", f"{org.name}, {_practice(org).address}", state)
    return _site(case_site, "other site", state)


def _distant(org: Organization) -> Site:
    practice = _practice(org)
    return _site("practice", f"{org.name}, {practice.address} (the reviewing dentist)", org.state)


async def load_case_facts(
    db: AsyncSession,
    case: Case,
    *,
    blobs: BlobStore | None = None,
    lines: Sequence[ClaimLine] | None = None,
) -> CaseFacts:
    """Everything about a signed case; ``blobs`` loads the display pictures (for documents).

    Raises :class:`NotSigned` when the case has no signed evaluation.
    """
    from reviewer.coding.rules import propose_async_lines

    evaluation = await db.scalar(select(Evaluation).where(Evaluation.case_id == case.id))
    if evaluation is None or evaluation.status != "signed" or evaluation.signed_at is None:
        raise NotSigned("This case has no signed evaluation yet: there is nothing to bill.")
    patient = await db.get_one(Patient, case.patient_id)
    org = await db.get_one(Organization, case.organization_id)
    dentist = await db.get_one(User, evaluation.dentist_id)
    submitter = await db.get_one(User, case.submitted_by_id)
    event = (
        await db.get(ScreeningEvent, case.screening_event_id) if case.screening_event_id else None
    )
    attachments = (
        await db.scalars(
            select(Attachment)
            .where(Attachment.case_id == case.id, Attachment.status == "ready")
            .order_by(Attachment.created_at, Attachment.id)
        )
    ).all()
    addenda = (
        await db.scalars(
            select(Addendum)
            .where(Addendum.evaluation_id == evaluation.id)
            .order_by(Addendum.signed_at, Addendum.id)
        )
    ).all()
    authors = {
        u.id: u
        for u in (
            await db.scalars(select(User).where(User.id.in_({a.author_id for a in addenda})))
        ).all()
    } if addenda else {}
    profile = await payer_profile_for(db, org.id, patient.payer_name)
    tz = org.time_zone or "UTC"
    signed_on = local_date(evaluation.signed_at, tz)
    kind = CaseKind(case.kind)
    site = OriginatingSite(case.location_site)
    collected_on = case.collected_on or (
        local_date(case.first_submitted_at, tz) if case.first_submitted_at else None
    )

    # who gathered the information on site (a school screening's hygienist)
    submitter_provider = provider_of(submitter)
    screening: Mapping[str, Any] = case.screening or {}
    visit_day = event.event_date if event else (collected_on or signed_on)
    on_site = (
        OnSiteVisit(provider=submitter_provider, date=visit_day)
        if kind is CaseKind.SCHOOL_SCREENING else None
    )
    services = tuple(
        ServiceDelivered(
            code=str(s.get("code", "")).strip().upper(),
            tooth=(str(s["tooth"]).strip().upper() if s.get("tooth") else None),
            provider=submitter_provider,
            date=visit_day,
        )
        for s in screening.get("services", []) or []
        if isinstance(s, Mapping) and s.get("code")
    )

    # radiographs: taken by staff on site → their capture lines; from elsewhere → reading only
    by_set: dict[tuple[RadiographKind, dt.date, Provider | None], int] = defaultdict(int)
    uploader_ids = {a.uploaded_by_id for a in attachments}
    uploaders = {
        u.id: u for u in (await db.scalars(select(User).where(User.id.in_(uploader_ids)))).all()
    } if uploader_ids else {}
    for a in attachments:
        if a.kind != AttachmentKind.RADIOGRAPH:
            continue
        rkind = RADIOGRAPH_KIND_BY_VIEW.get(a.view, RadiographKind.PERIAPICAL)
        taken_on = a.captured_at.date() if a.captured_at else (collected_on or signed_on)
        by_set[(rkind, taken_on, _taker(uploaders.get(a.uploaded_by_id)))] += 1
    radiographs = tuple(
        RadiographSet(kind=k, captured_on=d, captured_by=p, images=n)
        for (k, d, p), n in by_set.items()
    )
    photos = _photo_sets(attachments, uploaders, collected_on or signed_on)
    problem = case_problem(case)
    recommendations, plan = _recommendations(evaluation.procedures or [], evaluation.diagnosis)
    facts = AsyncReviewFacts(
        encounter_id=str(case.id),
        case_kind=kind,
        problem=problem,
        dentist=provider_of(dentist),
        signed_on=signed_on,
        originating_site=site,
        on_site=on_site,
        services=services,
        radiographs=radiographs,
        recommended=plan,
    )
    proposed = tuple(propose_async_lines(facts, profile, photos))

    reviewed = {str(r.get("attachment_id")): r for r in evaluation.image_review or []}
    drawn = await chosen_annotations(db, (a.id for a in attachments), for_claim=True)
    items: list[GatheredItem] = []
    for a in attachments:
        display = None
        if blobs is not None and a.display_key:
            display = await blobs.read(a.display_key)
        items.append(
            GatheredItem(
                ref=str(a.id), kind=a.kind, view=a.view, teeth=a.teeth,
                captured_at=a.captured_at, sha256=a.original_sha256,
                content_type=a.content_type, display_jpeg=display,
                captured_on_fallback=collected_on,
                **review_of_item(reviewed.get(str(a.id))),
                annotations=tuple({"shapes": n.shapes, "note": n.note}
                                  for n in drawn.get(a.id, [])),
            )
        )
    questionnaire = tuple(
        (_label(k), _text(v)) for k, v in (case.questionnaire or {}).items()
        if k not in HISTORY_KEYS
    )
    history = history_rows(patient, org.time_zone)
    if patient.medical_alerts:
        history.append(("Medical alerts", patient.medical_alerts))
    history += [
        (_label(k), _text(v)) for k, v in (case.questionnaire or {}).items() if k in HISTORY_KEYS
    ]
    screening_rows = tuple(
        (_label(k), _text(v)) for k, v in screening.items() if k not in {"event_id"}
    )
    school = event.site if event else None
    collected_from, collected_to = collected_span(attachments, tz)
    record = AsyncRecord(
        encounter_id=str(case.id),
        case_kind=case.kind,
        practice=_practice(org),
        dentist=Clinician(
            name=dentist.display_name or dentist.email, role="dentist", npi=dentist.npi or "",
            license=await _license(db, dentist.id, case.location_state),
        ),
        patient=_patient(patient),
        originating_site=_originating(case.location_site, case.location_state, patient, org,
                                      school),
        distant_site=recorded_distant_site(evaluation) or _distant(org),
        items=tuple(items),
        questionnaire=questionnaire,
        history=tuple(history),
        screening=screening_rows,
        collected_by=Clinician(
            name=submitter.display_name or submitter.email, role=submitter.role,
            npi=submitter.npi or "",
            license=await collector_license(db, submitter.id, case.kind, case.location_state),
        ),
        collected_on=collected_on,
        sent_at=case.first_submitted_at or case.submitted_at,
        reviewed_at=case.reviewed_at,
        signed_at=evaluation.signed_at,
        findings=evaluation.findings,
        teeth_findings=tuple(
            (str(t.get("tooth", "")), str(t.get("condition", "")))
            for t in evaluation.teeth_findings or []
        ),
        diagnosis=evaluation.diagnosis,
        recommendations=recommendations,
        advice=evaluation.advice,
        referral=_referral(evaluation.referral),
        follow_up=_follow_up(evaluation.follow_up_days),
        lines=tuple(lines) if lines is not None else proposed,
        attestation=evaluation.attestation or "",
        content_sha256=evaluation.content_sha256 or "",
        addenda=tuple(
            AddendumNote(
                author=(authors[a.author_id].display_name or authors[a.author_id].email)
                if a.author_id in authors else "unknown",
                signed_at=a.signed_at, text=a.text,
            )
            for a in addenda
        ),
        payer_profile=profile.name,
        review_started_at=evaluation.review_started_at,
        review_ended_at=evaluation.review_ended_at,
        consents=await record_consents(db, patient.id, case.kind, evaluation.signed_at),
        collected_from=collected_from,
        collected_to=collected_to,
    )
    moments = [evaluation.signed_at, *(a.signed_at for a in addenda)]
    return CaseFacts(
        case=case, evaluation=evaluation, patient=patient, organization=org, dentist=dentist,
        profile=profile, facts=facts, record=record, proposed=proposed,
        patient_age=age_on(patient.date_of_birth, signed_on),
        latest_signature=max(moments),
    )


async def load_live_facts(
    db: AsyncSession, session: LiveSession, *, lines: Sequence[ClaimLine] | None = None
) -> LiveFacts:
    from reviewer.coding.rules import propose_live_lines

    patient = await db.get_one(Patient, session.patient_id)
    org = await db.get_one(Organization, session.organization_id)
    dentist = await db.get_one(User, session.dentist_id)
    case = await db.get(Case, session.case_id) if session.case_id else None
    profile = await payer_profile_for(db, org.id, patient.payer_name)
    tz = org.time_zone or "UTC"
    day = local_date(session.started_at, tz)
    evaluation: Mapping[str, Any] = session.evaluation or {}
    problem_text = str(evaluation.get("problem_status", "")).lower()
    live_problem = (
        ProblemStatus(problem_text) if problem_text in set(ProblemStatus) else ProblemStatus.NEW
    )
    recommendations, plan = _recommendations(
        evaluation.get("procedures", []) or [], str(evaluation.get("diagnosis", ""))
    )
    facts = LiveSessionFacts(
        encounter_id=str(session.id),
        dentist=provider_of(dentist),
        session_date=day,
        # not recorded yet (the session cannot be signed so): the home, until it is
        originating_site=OriginatingSite(session.patient_site or OriginatingSite.HOME),
        problem=live_problem,
        case_kind=CaseKind(case.kind) if case else None,
        recommended=plan,
    )
    proposed = tuple(propose_live_lines(facts, profile))
    state = session.patient_state
    record = LiveRecord(
        encounter_id=str(session.id),
        practice=_practice(org),
        dentist=Clinician(
            name=dentist.display_name or dentist.email, role="dentist", npi=dentist.npi or "",
            license=await _license(db, dentist.id, state),
        ),
        patient=_patient(patient),
        originating_site=(
            _originating(session.patient_site, state, patient, org, None) if session.patient_site
            else _site("not recorded", "not recorded", state)
        ),
        distant_site=_distant(org),
        scheduled_at=session.scheduled_at,
        started_at=session.started_at,
        ended_at=session.ended_at,
        participants=tuple(
            Participant(name=str(p.get("name", "")), role=str(p.get("role", "")))
            for p in session.participants or []
            if isinstance(p, Mapping)
        ),
        platform=session.platform,
        notes=session.notes,
        findings=str(evaluation.get("findings", "")),
        diagnosis=str(evaluation.get("diagnosis", "")),
        advice=str(evaluation.get("advice", "")),
        recommendations=recommendations,
        lines=tuple(lines) if lines is not None else proposed,
        linked_case_id=str(session.case_id) if session.case_id else None,
        recorded_at=session.created_at,
        payer_profile=profile.name,
        signed_at=session.signed_at,
        attestation=session.attestation or "",
        content_sha256=session.content_sha256 or "",
    )
    return LiveFacts(
        session=session, patient=patient, organization=org, dentist=dentist, profile=profile,
        facts=facts, record=record, proposed=proposed,
        patient_age=age_on(patient.date_of_birth, day),
    )
