"""The patient registry: staff register patients, find them, read them, and reset the
password of a patient login that lies wholly inside their organizations (invitations are in
``reviewer.accounts.invitations``).

Who may register and invite: hygienists, front desk and coordinators, for their own
organizations. Who may search and read: the same plus dentists (organizations served); a
patient login reads only the patients linked to it. Anything outside answers NotFound.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.access import get_patient, patient_visibility
from reviewer.accounts.links import RESET, IssuedLink, issue_link
from reviewer.accounts.validation import check_email, check_state, clean
from reviewer.actor import Actor
from reviewer.clock import age_on, today_in
from reviewer.errors import Conflict, Forbidden, Invalid, NotFound, Unprocessable
from storage.audit import AuditContext, record_event, record_view
from storage.models import Organization, Patient, Role, User, patient_login

REGISTRAR_ROLES = frozenset({Role.HYGIENIST, Role.FRONT_DESK, Role.COORDINATOR})
SEARCH_LIMIT = 50
ADULT_AGE = 18


def _context(actor: Actor) -> AuditContext:
    return AuditContext(actor_id=actor.user_id, actor_role=actor.role,
                        client_address=actor.client_address)


def _require_registrar(actor: Actor) -> None:
    if actor.role not in REGISTRAR_ROLES:
        raise Forbidden("Your role cannot register patients.")


@dataclass(frozen=True)
class PatientInput:
    first_name: str
    last_name: str
    date_of_birth: date
    state: str
    organization_id: uuid.UUID | None = None
    guardian_name: str | None = None
    guardian_phone: str | None = None
    guardian_email: str | None = None
    email: str | None = None
    phone: str | None = None
    address_line: str = ""
    city: str = ""
    postal_code: str = ""
    payer_name: str | None = None
    member_id: str | None = None
    student_id: str | None = None
    school: str | None = None
    grade: str | None = None
    medical_alerts: str = ""


def _organization_for(actor: Actor, requested: uuid.UUID | None) -> uuid.UUID:
    if requested is None:
        if len(actor.organization_ids) == 1:
            return next(iter(actor.organization_ids))
        raise Invalid("Choose the organization the patient belongs to.",
                      code="organization_required")
    if requested not in actor.organization_ids:
        raise NotFound("No such organization.")
    return requested


def _optional(value: str | None, limit: int, field: str) -> str | None:
    return clean(value, limit=limit, field=field) or None


async def register_patient(db: AsyncSession, actor: Actor, data: PatientInput) -> Patient:
    """Create a patient record in one of the actor's organizations (audited)."""
    _require_registrar(actor)
    organization_id = _organization_for(actor, data.organization_id)
    # The organization's day, not the server's: a birthday today in California is today.
    org = await db.get(Organization, organization_id)
    today = today_in(org.time_zone if org else None)
    if data.date_of_birth > today or data.date_of_birth.year < 1900:
        raise Unprocessable("The date of birth is not possible.", code="invalid_date_of_birth")
    guardian_name = _optional(data.guardian_name, 200, "guardian_name")
    if age_on(data.date_of_birth, today) < ADULT_AGE and not guardian_name:
        raise Unprocessable("A minor needs a parent or guardian.", code="guardian_required")
    student_id = _optional(data.student_id, 64, "student_id")
    if student_id and await db.scalar(
        select(Patient.id).where(Patient.organization_id == organization_id,
                                 Patient.student_id == student_id)
    ):
        raise Conflict("A patient with this student id is already registered.",
                       code="duplicate_student_id")
    patient = Patient(
        organization_id=organization_id,
        first_name=clean(data.first_name, limit=100, field="first_name", required=True),
        last_name=clean(data.last_name, limit=100, field="last_name", required=True),
        date_of_birth=data.date_of_birth,
        state=check_state(data.state),
        guardian_name=guardian_name,
        guardian_phone=_optional(data.guardian_phone, 32, "guardian_phone"),
        guardian_email=check_email(data.guardian_email, field="guardian_email"),
        email=check_email(data.email),
        phone=_optional(data.phone, 32, "phone"),
        address_line=clean(data.address_line, limit=200, field="address_line"),
        city=clean(data.city, limit=100, field="city"),
        postal_code=clean(data.postal_code, limit=10, field="postal_code"),
        payer_name=_optional(data.payer_name, 200, "payer_name"),
        member_id=_optional(data.member_id, 64, "member_id"),
        student_id=student_id,
        school=_optional(data.school, 200, "school"),
        grade=_optional(data.grade, 16, "grade"),
        medical_alerts=clean(data.medical_alerts, limit=4000, field="medical_alerts"),
    )
    db.add(patient)
    await db.flush()
    await record_event(db, "patient.registered", _context(actor), organization_id=organization_id,
                       subject_type="patient", subject_id=patient.id)
    return patient


async def search_patients(db: AsyncSession, actor: Actor, query: str) -> list[Patient]:
    """Patients of the actor's reach whose name starts with the words of ``query``, or whose
    student id is ``query``. Audited as one read (with the count, never the query: a name)."""
    if actor.role not in REGISTRAR_ROLES | {Role.DENTIST}:
        raise Forbidden("Your role cannot search patients.")
    words = [w for w in query.strip().lower().split() if w][:4]
    statement = select(Patient).where(patient_visibility(actor))
    if words:
        for word in words:
            pattern = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            statement = statement.where(
                or_(
                    func.lower(Patient.first_name).like(pattern, escape="\\"),
                    func.lower(Patient.last_name).like(pattern, escape="\\"),
                    Patient.student_id == query.strip(),
                )
            )
    rows = (
        await db.scalars(
            statement.order_by(Patient.last_name, Patient.first_name, Patient.id).limit(
                SEARCH_LIMIT
            )
        )
    ).all()
    for organization_id in sorted({p.organization_id for p in rows}, key=str):
        await record_event(
            db, "patient.searched", _context(actor), organization_id=organization_id,
            details={"results": sum(1 for p in rows if p.organization_id == organization_id)},
        )
    return list(rows)


async def read_patient(db: AsyncSession, actor: Actor, patient_id: uuid.UUID) -> Patient:
    """One patient record, scoped at the source; the read is a ``patient.viewed`` view row."""
    if actor.role not in REGISTRAR_ROLES | {Role.DENTIST, Role.PATIENT}:
        raise NotFound("No such patient.")
    patient = await get_patient(db, actor, patient_id)
    record_view(db, "patient.viewed", _context(actor), organization_id=patient.organization_id,
                subject_type="patient", subject_id=patient.id)
    return patient


async def _registrar_patient(db: AsyncSession, actor: Actor, patient_id: uuid.UUID) -> Patient:
    _require_registrar(actor)
    return await get_patient(db, actor, patient_id)


async def patient_logins(db: AsyncSession, patient_id: uuid.UUID) -> list[User]:
    rows = await db.scalars(
        select(User)
        .join(patient_login, patient_login.c.user_id == User.id)
        .where(patient_login.c.patient_id == patient_id)
        .order_by(User.email)
    )
    return list(rows.all())


async def login_within(
    db: AsyncSession, user: User, organization_ids: frozenset[uuid.UUID]
) -> bool:
    """Whether every organization of the login, and the organization of every patient it is
    linked to, is one of ``organization_ids``: only then may staff of those organizations
    reset its password. A login shared with another organization is reset by its owner."""
    if user.role != Role.PATIENT or not user.organization_ids <= organization_ids:
        return False
    outside = await db.scalar(
        select(func.count())
        .select_from(patient_login)
        .join(Patient, Patient.id == patient_login.c.patient_id)
        .where(patient_login.c.user_id == user.id,
               Patient.organization_id.not_in(organization_ids))
    )
    return not outside


async def issue_patient_reset(
    db: AsyncSession, actor: Actor, patient_id: uuid.UUID, user_id: uuid.UUID
) -> IssuedLink:
    """A password-reset link for one of the patient's logins; the login's sessions end now."""
    patient = await _registrar_patient(db, actor, patient_id)
    user = next((u for u in await patient_logins(db, patient.id) if u.id == user_id), None)
    if user is None:
        raise NotFound("No such login for this patient.")
    if not await login_within(db, user, actor.organization_ids):
        raise Forbidden(
            "This login is also used with another organization, so only its owner can reset "
            "its password (\"Forgot your password?\" on the sign-in page).",
            code="reset_not_allowed",
        )
    user.session_epoch += 1
    link = await issue_link(db, user.id, RESET, created_by_id=actor.user_id)
    await record_event(
        db, "password_reset.issued", _context(actor), organization_id=patient.organization_id,
        subject_type="user", subject_id=user.id, details={"patient_id": str(patient.id)},
    )
    return link
