"""Consents: which version of a form a patient (or their guardian) accepted, when and how."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.access import may_submit_for
from reviewer.actor import Actor
from reviewer.clock import age_on, today_in
from reviewer.consent_forms import current_form, languages_of
from reviewer.errors import Conflict, Invalid, NotFound
from reviewer.i18n import N_
from storage.audit import AuditContext, record_event
from storage.models import Consent, Organization, Patient, Role

ADULT_AGE = 18
METHODS = frozenset({"portal", "paper", "roster"})
GIVEN_BY = frozenset({"patient", "guardian"})


@dataclass(frozen=True, slots=True)
class ConsentRequest:
    form: str
    version: int
    patient_id: uuid.UUID | None = None
    method: str | None = None
    """portal (the patient in the portal), paper or roster (recorded by staff)."""
    given_by: str | None = None
    given_by_name: str | None = None
    language: str = "en"
    """The language of the text the person read and accepted (one of the version's
    ``languages_of``); stored with the consent."""


async def current_consent(db: AsyncSession, patient_id: uuid.UUID, form: str) -> Consent | None:
    """The unrevoked consent to the current version of ``form``, if any."""
    version = current_form(form).version
    return await db.scalar(
        select(Consent)
        .where(
            Consent.patient_id == patient_id,
            Consent.form == form,
            Consent.version == version,
            Consent.revoked_at.is_(None),
        )
        .order_by(Consent.accepted_at.desc())
        .limit(1)
    )


async def has_current_consent(db: AsyncSession, patient_id: uuid.UUID, form: str) -> bool:
    return await current_consent(db, patient_id, form) is not None


async def patient_for_submission(
    db: AsyncSession, actor: Actor, patient_id: uuid.UUID | None
) -> Patient:
    """The patient the actor acts for: a patient login may omit the id when it has one
    patient; staff must name one. Anything outside the actor's reach is NotFound."""
    if patient_id is None:
        if actor.role != Role.PATIENT:
            raise Invalid("Say which patient this is for (patient_id).", code="patient_required")
        if len(actor.patient_ids) != 1:
            raise Invalid("Say which of your patients this is for (patient_id).",
                          code="patient_required")
        patient_id = next(iter(actor.patient_ids))
    patient = await db.scalar(
        select(Patient).where(Patient.id == patient_id, may_submit_for(actor))
    )
    if patient is None:
        raise NotFound(N_("No such patient."))
    return patient


async def accept_consent(
    db: AsyncSession, actor: Actor, ctx: AuditContext, request: ConsentRequest
) -> Consent:
    """Record that the current version of a form was accepted.

    Raises Conflict ``stale_version`` when ``version`` is not the current one, and Conflict
    ``already_accepted`` when this patient already accepted that version.
    """
    form = current_form(request.form)
    if request.version != form.version:
        raise Conflict(
            f"Version {request.version} of this form is not the current one "
            f"(version {form.version}). Please read the current text.",
            code="stale_version",
        )
    if request.language not in languages_of(form.form, form.version):
        raise Invalid("This form cannot be read in that language.", code="invalid_language")
    patient = await patient_for_submission(db, actor, request.patient_id)
    if await has_current_consent(db, patient.id, form.form):
        raise Conflict(N_("This version of the form was already accepted."),
                       code="already_accepted")
    now = datetime.now(UTC)
    if actor.role == Role.PATIENT:
        method = "portal"
        org = await db.get(Organization, patient.organization_id)
        today = today_in(org.time_zone if org else None, now=now)
        minor = age_on(patient.date_of_birth, today) < ADULT_AGE
        is_self = (actor.email or "").lower() == (patient.email or "").lower() and not minor
        given_by = "patient" if is_self else "guardian"
        given_by_name = actor.display_name or actor.email
    else:
        method = request.method or "paper"
        if method not in METHODS - {"portal"}:
            raise Invalid("Staff record a consent given on paper or on a roster.",
                          code="invalid_method")
        given_by = request.given_by or "patient"
        if given_by not in GIVEN_BY:
            raise Invalid("given_by is patient or guardian.", code="invalid_given_by")
        given_by_name = request.given_by_name or (
            patient.guardian_name if given_by == "guardian" and patient.guardian_name
            else patient.full_name
        )
    consent = Consent(
        organization_id=patient.organization_id,
        patient_id=patient.id,
        form=form.form,
        version=form.version,
        language=request.language,
        given_by=given_by,
        given_by_name=(given_by_name or "")[:200],
        method=method,
        recorded_by_id=actor.user_id,
        accepted_at=now,
        client_address=(actor.client_address or ctx.client_address),
    )
    db.add(consent)
    await db.flush()
    await record_event(
        db,
        "consent.accepted",
        ctx,
        organization_id=patient.organization_id,
        subject_type="patient",
        subject_id=patient.id,
        details={"form": form.form, "version": form.version, "language": request.language,
                 "method": method,
                 "given_by": given_by, "consent_id": str(consent.id)},
    )
    return consent
