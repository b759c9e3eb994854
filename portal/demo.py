"""The demo data set: two California organizations and one account per role.

Idempotent: a rerun finds what exists and resets the demo accounts' password.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.passwords import hash_password_async
from storage.models import (
    License,
    Organization,
    OrganizationKind,
    Patient,
    Role,
    User,
    patient_login,
)

CLINIC = "Demo Dental Clinic"
SCHOOL = "Demo School Program"

ORGANIZATIONS: dict[str, dict[str, str]] = {
    CLINIC: {
        "kind": OrganizationKind.PRACTICE,
        "npi": "1234567893",
        "address_line": "100 Main Street",
        "city": "Sacramento",
        "state": "CA",
        "postal_code": "95814",
        "phone": "+1 916 555 0100",
        "time_zone": "America/Los_Angeles",
    },
    SCHOOL: {
        "kind": OrganizationKind.SCHOOL_PROGRAM,
        "npi": "1245319599",
        "address_line": "200 School Road",
        "city": "Fresno",
        "state": "CA",
        "postal_code": "93721",
        "phone": "+1 559 555 0199",
        "time_zone": "America/Los_Angeles",
    },
}

# email, role, display name, NPI, organizations
ACCOUNTS: list[tuple[str, str, str, str | None, tuple[str, ...]]] = [
    ("admin@demo.test", Role.ADMIN, "Demo Administrator", None, (CLINIC, SCHOOL)),
    ("dentist@demo.test", Role.DENTIST, "Dr. Dana Demo", "1326044579", (CLINIC, SCHOOL)),
    ("dentist2@demo.test", Role.DENTIST, "Dr. Sam Second", "1538296546", (CLINIC, SCHOOL)),
    ("hygienist@demo.test", Role.HYGIENIST, "Hana Hygienist", "1750384913", (SCHOOL,)),
    ("billing@demo.test", Role.FRONT_DESK, "Bill Frontdesk", None, (CLINIC, SCHOOL)),
    ("coordinator@demo.test", Role.COORDINATOR, "Cora Coordinator", None, (CLINIC, SCHOOL)),
    ("patient@demo.test", Role.PATIENT, "Pat Demo", None, (CLINIC,)),
]


@dataclass(frozen=True)
class DemoResult:
    password: str
    password_was_generated: bool
    created: int


async def seed_demo(db: AsyncSession, password: str | None = None) -> DemoResult:
    generated = password is None
    password = password or secrets.token_urlsafe(12)
    password_hash = await hash_password_async(password)  # argon2: off the event loop
    orgs: dict[str, Organization] = {}
    created = 0
    for name, fields in ORGANIZATIONS.items():
        org = await db.scalar(select(Organization).where(Organization.name == name))
        if org is None:
            org = Organization(name=name, **fields)
            db.add(org)
            created += 1
        orgs[name] = org
    await db.flush()
    for email, role, display_name, npi, org_names in ACCOUNTS:
        user = await db.scalar(select(User).where(User.email == email))
        if user is None:
            user = User(email=email, role=role, display_name=display_name, npi=npi)
            db.add(user)
            created += 1
        user.role = role
        user.is_active = True
        user.password_hash = password_hash
        user.session_epoch = (user.session_epoch or 0) + 1
        user.organizations = [orgs[name] for name in org_names]
    await db.flush()
    created += await _seed_licenses(db)
    created += await _seed_demo_patient(db, orgs[CLINIC])
    return DemoResult(password=password, password_was_generated=generated, created=created)


# Both demo dentists hold a current California license, so two can work the queue at once.
LICENSES = {"dentist@demo.test": "DDS 100001", "dentist2@demo.test": "DDS 100002"}
LICENSE_EXPIRY = date(2030, 12, 31)


async def _seed_licenses(db: AsyncSession) -> int:
    created = 0
    for email, number in LICENSES.items():
        user = await db.scalar(select(User).where(User.email == email))
        assert user is not None
        license_ = await db.scalar(
            select(License).where(License.user_id == user.id, License.state == "CA")
        )
        if license_ is None:
            db.add(License(user_id=user.id, state="CA", number=number, expires_on=LICENSE_EXPIRY))
            created += 1
        else:
            license_.expires_on = max(license_.expires_on, LICENSE_EXPIRY)
    await db.flush()
    return created


async def _seed_demo_patient(db: AsyncSession, clinic: Organization) -> int:
    """patient@demo.test is a registered adult patient of the clinic, living in California."""
    user = await db.scalar(select(User).where(User.email == "patient@demo.test"))
    assert user is not None
    patient = await db.scalar(
        select(Patient).where(
            Patient.organization_id == clinic.id, Patient.email == "patient@demo.test"
        )
    )
    created = 0
    if patient is None:
        patient = Patient(
            organization_id=clinic.id,
            first_name="Pat",
            last_name="Demo",
            date_of_birth=date(1988, 4, 12),
            email="patient@demo.test",
            phone="+1 916 555 0142",
            address_line="42 Elm Street",
            city="Sacramento",
            state="CA",
            postal_code="95816",
            payer_name="Demo Dental Plan",
            member_id="DDP-0042",
        )
        db.add(patient)
        await db.flush()
        created = 1
    await db.execute(
        patient_login.delete().where(patient_login.c.user_id == user.id)
    )
    await db.execute(patient_login.insert().values(user_id=user.id, patient_id=patient.id))
    return created


async def database_is_empty(db: AsyncSession) -> bool:
    return await db.scalar(select(User.id).limit(1)) is None
