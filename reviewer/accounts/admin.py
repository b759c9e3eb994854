"""What an administrator does: organizations, staff accounts, dentists' organizations and
licenses, password-reset links for staff. Admins never read patient records, and these
services never list patient-role accounts (their names and addresses are PHI)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.accounts.links import INVITE, RESET, IssuedLink, issue_link
from reviewer.accounts.validation import (
    check_email,
    check_npi,
    check_state,
    check_time_zone,
    clean,
)
from reviewer.actor import Actor
from reviewer.errors import Conflict, Forbidden, NotFound, Unprocessable
from storage.audit import AuditContext, record_event
from storage.models import License, Organization, OrganizationKind, Role, User

STAFF_ROLES = (Role.DENTIST, Role.HYGIENIST, Role.FRONT_DESK, Role.COORDINATOR, Role.ADMIN)
NPI_ROLES = frozenset({Role.DENTIST, Role.HYGIENIST})


def _require_admin(actor: Actor) -> AuditContext:
    if actor.role != Role.ADMIN:
        raise Forbidden("Only an administrator can do this.")
    return AuditContext(actor_id=actor.user_id, actor_role=actor.role,
                        client_address=actor.client_address)


# ------------------------------------------------------------------ organizations


@dataclass(frozen=True)
class OrganizationInput:
    name: str
    kind: str = OrganizationKind.PRACTICE
    npi: str | None = None
    address_line: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    phone: str = ""
    time_zone: str = "America/Los_Angeles"


def _apply_organization(org: Organization, data: OrganizationInput) -> list[str]:
    kind = data.kind if data.kind in set(OrganizationKind) else None
    if kind is None:
        raise Unprocessable("Choose practice or school program.", code="invalid_kind")
    values = {
        "name": clean(data.name, limit=200, field="name", required=True),
        "kind": kind,
        "npi": check_npi(data.npi) if (data.npi or None) != org.npi else org.npi,
        "address_line": clean(data.address_line, limit=200, field="address_line"),
        "city": clean(data.city, limit=100, field="city"),
        "state": check_state(data.state, required=False),
        "postal_code": clean(data.postal_code, limit=10, field="postal_code"),
        "phone": clean(data.phone, limit=32, field="phone"),
        "time_zone": check_time_zone(data.time_zone),
    }
    changed = [name for name, value in values.items() if getattr(org, name, None) != value]
    for name, value in values.items():
        setattr(org, name, value)
    return changed


async def list_organizations(db: AsyncSession, actor: Actor) -> Sequence[Organization]:
    _require_admin(actor)
    return (await db.scalars(select(Organization).order_by(Organization.name))).all()


async def get_organization(db: AsyncSession, actor: Actor, org_id: uuid.UUID) -> Organization:
    _require_admin(actor)
    org = await db.get(Organization, org_id)
    if org is None:
        raise NotFound("No such organization.")
    return org


async def _name_taken(db: AsyncSession, name: str, except_id: uuid.UUID | None) -> bool:
    found = await db.scalar(select(Organization.id).where(Organization.name == name.strip()))
    return found is not None and found != except_id


async def create_organization(
    db: AsyncSession, actor: Actor, data: OrganizationInput
) -> Organization:
    context = _require_admin(actor)
    if await _name_taken(db, data.name, None):
        raise Conflict("An organization with this name exists.", code="duplicate_name")
    org = Organization(name="")
    _apply_organization(org, data)
    db.add(org)
    await db.flush()
    await record_event(db, "organization.created", context, organization_id=org.id,
                       subject_type="organization", subject_id=org.id)
    return org


async def update_organization(
    db: AsyncSession, actor: Actor, org_id: uuid.UUID, data: OrganizationInput
) -> Organization:
    context = _require_admin(actor)
    org = await get_organization(db, actor, org_id)
    if await _name_taken(db, data.name, org.id):
        raise Conflict("An organization with this name exists.", code="duplicate_name")
    changed = _apply_organization(org, data)
    if changed:
        await record_event(db, "organization.updated", context, organization_id=org.id,
                           subject_type="organization", subject_id=org.id,
                           details={"fields": changed})
    return org


# ------------------------------------------------------------------ staff accounts


@dataclass(frozen=True)
class StaffInput:
    email: str
    display_name: str
    role: str
    npi: str | None = None
    organization_ids: tuple[uuid.UUID, ...] = ()
    is_active: bool = True
    practice_address: str | None = None
    """A dentist's own practice address (the distant site of their reviews); empty: the
    organization's; None: leave as it is."""
    practice_state: str | None = None


async def list_staff(db: AsyncSession, actor: Actor) -> Sequence[User]:
    _require_admin(actor)
    return (
        await db.scalars(select(User).where(User.role != Role.PATIENT).order_by(User.email))
    ).all()


async def get_staff(db: AsyncSession, actor: Actor, user_id: uuid.UUID) -> User:
    _require_admin(actor)
    user = await db.get(User, user_id)
    if user is None or user.role == Role.PATIENT:
        raise NotFound("No such account.")
    return user


async def _organizations(db: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Organization]:
    wanted = set(ids)
    if not wanted:
        return []
    found = list((await db.scalars(select(Organization).where(Organization.id.in_(wanted)))).all())
    if len(found) != len(wanted):
        raise NotFound("No such organization.")
    return sorted(found, key=lambda org: org.name)


def _check_role(role: str) -> str:
    if role not in {str(r) for r in STAFF_ROLES}:
        raise Unprocessable("Choose a staff role.", code="invalid_role")
    return role


async def create_staff(db: AsyncSession, actor: Actor, data: StaffInput) -> tuple[User, IssuedLink]:
    """A staff account without a password, and the invitation link that sets one."""
    context = _require_admin(actor)
    address = check_email(data.email, required=True)
    if await db.scalar(select(User.id).where(User.email == address)):
        raise Conflict("An account with this email exists.", code="email_in_use")
    role = _check_role(data.role)
    organizations = await _organizations(db, data.organization_ids)
    if role != Role.ADMIN and not organizations:
        raise Unprocessable("Choose at least one organization.", code="organization_required")
    user = User(
        email=address,
        display_name=clean(data.display_name, limit=200, field="display_name", required=True),
        role=role,
        npi=check_npi(data.npi) if role in NPI_ROLES else None,
        is_active=True,
        organizations=organizations,
    )
    db.add(user)
    await db.flush()
    link = await issue_link(db, user.id, INVITE, created_by_id=actor.user_id)
    org_ids: list[uuid.UUID | None] = [org.id for org in organizations] or [None]
    for org_id in org_ids:
        await record_event(
            db, "user.created", context, organization_id=org_id,
            subject_type="user", subject_id=user.id, details={"role": role},
        )
    return user, link


async def update_staff(
    db: AsyncSession, actor: Actor, user_id: uuid.UUID, data: StaffInput
) -> User:
    """Change name, role, NPI, organizations or active flag. A change of privilege (role,
    organizations, deactivation) ends the account's sessions: it signs in again, which
    gives it a new session id."""
    context = _require_admin(actor)
    user = await get_staff(db, actor, user_id)
    role = _check_role(data.role)
    if user.id == actor.user_id and (role != Role.ADMIN or not data.is_active):
        raise Conflict("You cannot remove your own administrator access.", code="self_lockout")
    organizations = await _organizations(db, data.organization_ids)
    if role != Role.ADMIN and not organizations:
        raise Unprocessable("Choose at least one organization.", code="organization_required")
    npi = data.npi.strip() if data.npi else None
    if role not in NPI_ROLES:
        npi = None
    elif npi != user.npi:
        npi = check_npi(npi)
    changed: list[str] = []
    display_name = clean(data.display_name, limit=200, field="display_name", required=True)
    for name, value in (("display_name", display_name), ("role", role), ("npi", npi),
                        ("is_active", data.is_active)):
        if getattr(user, name) != value:
            setattr(user, name, value)
            changed.append(name)
    changed += _practice_changes(user, role, data)
    before = {org.id for org in user.organizations}
    after = {org.id for org in organizations}
    if before != after:
        user.organizations = organizations
        changed.append("organizations")
    if {"role", "is_active", "organizations"} & set(changed):
        user.session_epoch += 1
    if changed:
        await record_event(
            db, "user.updated", context, subject_type="user", subject_id=user.id,
            details={"fields": changed, "role": role,
                     "organizations": sorted(str(i) for i in after)},
        )
    return user


def _practice_changes(user: User, role: str, data: StaffInput) -> list[str]:
    """Set a dentist's practice address and state (cleared for any other role); the names
    of the columns that changed."""
    if data.practice_address is None and role == Role.DENTIST:
        return []
    address, state = "", ""
    if role == Role.DENTIST:
        address = clean(data.practice_address or "", limit=300, field="practice_address")
        state = check_state(data.practice_state, required=False) if address else ""
    changed: list[str] = []
    for name, value in (("practice_address", address), ("practice_state", state)):
        if getattr(user, name) != value:
            setattr(user, name, value)
            changed.append(name)
    return changed


async def issue_staff_reset(db: AsyncSession, actor: Actor, user_id: uuid.UUID) -> IssuedLink:
    """A password-reset link for a staff account; its sessions end at once."""
    context = _require_admin(actor)
    user = await get_staff(db, actor, user_id)
    user.session_epoch += 1
    link = await issue_link(db, user.id, RESET, created_by_id=actor.user_id)
    await record_event(db, "password_reset.issued", context, subject_type="user",
                       subject_id=user.id)
    return link


# ------------------------------------------------------------------ licenses


async def licenses_of(db: AsyncSession, user_id: uuid.UUID) -> Sequence[License]:
    return (
        await db.scalars(select(License).where(License.user_id == user_id).order_by(License.state))
    ).all()


async def record_license(
    db: AsyncSession, actor: Actor, user_id: uuid.UUID, *, state: str, number: str,
    expires_on: date,
) -> License:
    """Add or replace the dentist's (or hygienist's) license for one state; a hygienist's is
    printed on the school records they collect."""
    context = _require_admin(actor)
    user = await get_staff(db, actor, user_id)
    if user.role not in {Role.DENTIST, Role.HYGIENIST}:
        raise Unprocessable("Licenses are recorded for dentists and hygienists.",
                            code="not_a_dentist")
    code = check_state(state)
    number = clean(number, limit=32, field="number", required=True)
    license_ = await db.scalar(
        select(License).where(License.user_id == user.id, License.state == code)
    )
    if license_ is None:
        license_ = License(user_id=user.id, state=code, number=number, expires_on=expires_on)
        db.add(license_)
    else:
        license_.number, license_.expires_on = number, expires_on
    await db.flush()
    await record_event(db, "license.recorded", context, subject_type="user", subject_id=user.id,
                       details={"state": code, "expires_on": expires_on.isoformat()})
    return license_


async def remove_license(
    db: AsyncSession, actor: Actor, user_id: uuid.UUID, license_id: uuid.UUID
) -> None:
    context = _require_admin(actor)
    license_ = await db.scalar(
        select(License).where(License.id == license_id, License.user_id == user_id)
    )
    if license_ is None:
        raise NotFound("No such license.")
    await db.delete(license_)
    await record_event(db, "license.removed", context, subject_type="user", subject_id=user_id,
                       details={"state": license_.state})
