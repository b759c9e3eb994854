"""Invitations of a patient-role login to a patient record, and who may accept them.

Tenants never touch (docs/access.md, "Invitations and linked logins"):

- Staff invite an email address to one of their patients. The answer is the same whether the
  address is new, belongs to a patient login, or to a staff login: an invitation id, the
  address, a link and its expiry — nothing that tells accounts apart.
- An invitation grants nothing until its owner accepts it. For an address that already has a
  login the owner signs in and accepts (``accept``); for a new address the invitation creates
  the login and its link lets the holder set the first password, which accepts it. Only the
  invitation that created a login may set its password (``sets_password``), so a second
  organization's link to the same address can never be used to take the login over.
- A staff address is invited like any other, but its invitation can never be accepted.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.access import get_patient
from reviewer.accounts.validation import check_email
from reviewer.actor import Actor
from reviewer.clock import as_utc
from reviewer.errors import Forbidden, NotFound
from storage.audit import AuditContext, record_event
from storage.models import Organization, Patient, PatientInvitation, Role, User, patient_login

INVITATION_LIFETIME = timedelta(days=7)
"""An invitation works a week: its link travels by letter, text or email."""
INVITER_ROLES = frozenset({Role.HYGIENIST, Role.FRONT_DESK, Role.COORDINATOR})

PENDING = "pending"
ACCEPTED = "accepted"
DECLINED = "declined"
WITHDRAWN = "withdrawn"
REPLACED = "replaced"


def invitation_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _context(actor: Actor) -> AuditContext:
    return AuditContext(actor_id=actor.user_id, actor_role=actor.role,
                        client_address=actor.client_address)


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: PatientInvitation
    email: str
    token: str
    """The secret of the invitation's link: shown once to the inviting staff member."""

    @property
    def expires_at(self) -> datetime:
        return self.invitation.expires_at


@dataclass(frozen=True)
class PendingInvitation:
    """What the owner of a login sees of an invitation waiting for them."""

    invitation: PatientInvitation
    organization_name: str
    patient_first_name: str
    patient_last_initial: str


def is_open(invitation: PatientInvitation, now: datetime | None = None) -> bool:
    return invitation.status == PENDING and as_utc(invitation.expires_at) > (
        now or datetime.now(UTC)
    )


async def _has_accepted_link(db: AsyncSession, user_id: uuid.UUID) -> bool:
    return bool(await db.scalar(select(exists().where(patient_login.c.user_id == user_id))))


async def _created_by_organization(
    db: AsyncSession, user: User, organization_id: uuid.UUID
) -> bool:
    """The login was created by an invitation of this organization and nobody has set its
    password or accepted a link yet: that organization may send its first-password link
    again (the letter was lost), and nobody else ever may."""
    if user.password_hash is not None or user.role != Role.PATIENT:
        return False
    if await _has_accepted_link(db, user.id):
        return False
    return bool(await db.scalar(select(exists().where(
        PatientInvitation.user_id == user.id,
        PatientInvitation.sets_password.is_(True),
        PatientInvitation.organization_id == organization_id,
    ))))


async def invite(
    db: AsyncSession,
    actor: Actor,
    patient_id: uuid.UUID,
    *,
    email: str | None = None,
    guardian: bool = False,
) -> IssuedInvitation:
    """Invite ``email`` (default: the patient's, or the guardian's with ``guardian``) to a
    patient-role login linked to this patient, once accepted. Audited."""
    if actor.role not in INVITER_ROLES:
        raise Forbidden("Your role cannot invite patients.")
    patient = await get_patient(db, actor, patient_id)
    address = check_email(email or (patient.guardian_email if guardian else patient.email),
                          required=True)
    assert address is not None
    user = await db.scalar(select(User).where(User.email == address))
    created = user is None
    if user is None:
        name = (patient.guardian_name if guardian else None) or patient.full_name
        user = User(email=address, role=Role.PATIENT, display_name=name[:200], organizations=[])
        db.add(user)
        await db.flush()
    sets_password = created or await _created_by_organization(db, user, patient.organization_id)
    # One open invitation per login and patient; one first-password link per login: an
    # earlier one stays pending, to be accepted after signing in.
    pending = (PatientInvitation.user_id == user.id) & (PatientInvitation.status == PENDING)
    await db.execute(
        update(PatientInvitation)
        .where(pending, PatientInvitation.patient_id == patient.id)
        .values(status=REPLACED, decided_at=datetime.now(UTC))
        .execution_options(synchronize_session=False)
    )
    if sets_password:
        await db.execute(
            update(PatientInvitation)
            .where(pending, PatientInvitation.sets_password.is_(True))
            .values(sets_password=False)
            .execution_options(synchronize_session=False)
        )
    token = secrets.token_urlsafe(32)
    invitation = PatientInvitation(
        patient_id=patient.id, organization_id=patient.organization_id, user_id=user.id,
        guardian=guardian, sets_password=sets_password,
        token_hash=invitation_token_hash(token),
        expires_at=datetime.now(UTC) + INVITATION_LIFETIME, status=PENDING,
        created_by_id=actor.user_id,
    )
    db.add(invitation)
    await db.flush()
    await record_event(
        db, "patient.invited", _context(actor), organization_id=patient.organization_id,
        subject_type="patient", subject_id=patient.id,
        details={"invitation_id": str(invitation.id), "guardian": guardian,
                 "new_login": created, "sets_password": sets_password},
    )
    return IssuedInvitation(invitation=invitation, email=address, token=token)


async def find_open_invitation(db: AsyncSession, token: str) -> PatientInvitation | None:
    """The pending, unexpired invitation of a link's token, else ``None``."""
    if not token or len(token) > 200:
        return None
    invitation = await db.scalar(
        select(PatientInvitation).where(
            PatientInvitation.token_hash == invitation_token_hash(token))
    )
    return invitation if invitation is not None and is_open(invitation) else None


async def may_set_password(db: AsyncSession, invitation: PatientInvitation) -> bool:
    """Whether this invitation's link may set the login's first password."""
    if not invitation.sets_password or not is_open(invitation):
        return False
    user = await db.get(User, invitation.user_id)
    return (user is not None and user.is_active and user.role == Role.PATIENT
            and user.password_hash is None)


async def _link(db: AsyncSession, invitation: PatientInvitation, user: User) -> None:
    """Grant what the invitation offers: the patient link and the organization."""
    already = await db.scalar(select(exists().where(
        patient_login.c.user_id == user.id, patient_login.c.patient_id == invitation.patient_id)))
    if not already:
        await db.execute(insert(patient_login).values(user_id=user.id,
                                                      patient_id=invitation.patient_id))
    if invitation.organization_id not in user.organization_ids:
        organization = await db.get(Organization, invitation.organization_id)
        assert organization is not None
        user.organizations = [*user.organizations, organization]
    invitation.status = ACCEPTED
    invitation.decided_at = datetime.now(UTC)


async def accept_with_first_password(
    db: AsyncSession, invitation: PatientInvitation, user: User, context: AuditContext
) -> None:
    """The holder of a first-password link has just set the password: the invitation is
    accepted (the caller checked :func:`may_set_password` and set the password)."""
    await _link(db, invitation, user)
    await record_event(
        db, "patient_invitation.accepted", context, organization_id=invitation.organization_id,
        subject_type="patient", subject_id=invitation.patient_id,
        details={"invitation_id": str(invitation.id), "via": "first_password"},
    )


async def _own_pending(db: AsyncSession, actor: Actor, invitation_id: uuid.UUID
                       ) -> PatientInvitation:
    invitation = await db.scalar(
        select(PatientInvitation).where(PatientInvitation.id == invitation_id,
                                        PatientInvitation.user_id == actor.user_id)
    )
    if actor.role != Role.PATIENT or invitation is None or not is_open(invitation):
        raise NotFound("No such invitation.", code="invitation_not_found")
    return invitation


async def accept(db: AsyncSession, actor: Actor, invitation_id: uuid.UUID) -> PatientInvitation:
    """The signed-in owner of the invited login accepts: the patient record is linked and the
    organization added to the login. Another person's invitation answers NotFound."""
    invitation = await _own_pending(db, actor, invitation_id)
    user = await db.get(User, actor.user_id)
    assert user is not None
    await _link(db, invitation, user)
    await record_event(
        db, "patient_invitation.accepted", _context(actor),
        organization_id=invitation.organization_id, subject_type="patient",
        subject_id=invitation.patient_id,
        details={"invitation_id": str(invitation.id), "via": "signed_in"},
    )
    return invitation


async def decline(db: AsyncSession, actor: Actor, invitation_id: uuid.UUID
                  ) -> PatientInvitation:
    invitation = await _own_pending(db, actor, invitation_id)
    return await _close(db, actor, invitation, DECLINED)


async def _close(db: AsyncSession, actor: Actor, invitation: PatientInvitation, status: str
                 ) -> PatientInvitation:
    """End a pending invitation without linking anything (declined, withdrawn); audited as
    ``patient_invitation.<status>``."""
    invitation.status = status
    invitation.decided_at = datetime.now(UTC)
    await record_event(
        db, f"patient_invitation.{status}", _context(actor),
        organization_id=invitation.organization_id, subject_type="patient",
        subject_id=invitation.patient_id, details={"invitation_id": str(invitation.id)},
    )
    return invitation


async def pending_for(db: AsyncSession, actor: Actor) -> list[PendingInvitation]:
    """Open invitations waiting for the signed-in login (patients only; staff have none).
    Only the organization and the patient's first name and initial are shown: an address
    typed wrongly by staff must not show a stranger a whole name."""
    if actor.role != Role.PATIENT:
        return []
    rows = (await db.execute(
        select(PatientInvitation, Organization.name, Patient.first_name, Patient.last_name)
        .join(Organization, Organization.id == PatientInvitation.organization_id)
        .join(Patient, Patient.id == PatientInvitation.patient_id)
        .where(PatientInvitation.user_id == actor.user_id,
               PatientInvitation.status == PENDING,
               PatientInvitation.expires_at > datetime.now(UTC))
        .order_by(PatientInvitation.created_at)
    )).all()
    return [PendingInvitation(invitation=row[0], organization_name=row[1],
                              patient_first_name=row[2], patient_last_initial=row[3][:1])
            for row in rows]


@dataclass(frozen=True)
class SentInvitation:
    """What staff see of an invitation they sent: never whether the address had a login."""

    invitation: PatientInvitation
    email: str

    @property
    def state(self) -> str:
        if self.invitation.status == PENDING and not is_open(self.invitation):
            return "expired"
        return self.invitation.status


async def invitations_for_patient(
    db: AsyncSession, actor: Actor, patient_id: uuid.UUID
) -> list[SentInvitation]:
    patient = await get_patient(db, actor, patient_id)
    rows = (await db.execute(
        select(PatientInvitation, User.email)
        .join(User, User.id == PatientInvitation.user_id)
        .where(PatientInvitation.patient_id == patient.id,
               PatientInvitation.status != REPLACED)
        .order_by(PatientInvitation.created_at.desc())
        .limit(20)
    )).all()
    return [SentInvitation(invitation=row[0], email=row[1]) for row in rows]


async def withdraw(db: AsyncSession, actor: Actor, patient_id: uuid.UUID,
                   invitation_id: uuid.UUID) -> PatientInvitation:
    """Staff of the patient's organization withdraw a pending invitation."""
    if actor.role not in INVITER_ROLES:
        raise Forbidden("Your role cannot invite patients.")
    patient = await get_patient(db, actor, patient_id)
    invitation = await db.scalar(select(PatientInvitation).where(
        PatientInvitation.id == invitation_id, PatientInvitation.patient_id == patient.id))
    if invitation is None or invitation.status != PENDING:
        raise NotFound("No such pending invitation.", code="invitation_not_found")
    return await _close(db, actor, invitation, WITHDRAWN)
