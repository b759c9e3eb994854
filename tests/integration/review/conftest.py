"""Review fixtures: the demo world and submitted cases inserted directly (no intake API)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.demo import seed_demo
from reviewer.actor import Actor
from reviewer.intake.attachments import attachment_meta
from reviewer.queue.scope import queue_rank
from storage.audit import AuditContext
from storage.models import Attachment, Case, License, Organization, Patient, Role, User
from tests.support.portal import DEMO_PASSWORD


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class World:
    db: AsyncSession
    clinic: Organization
    school: Organization
    dentist: User
    dentist2: User
    hygienist: User
    patient_user: User
    patient: Patient

    def actor(self, user: User) -> Actor:
        return Actor(user_id=user.id, role=user.role,
                     organization_ids=frozenset(o.id for o in user.organizations),
                     email=user.email)

    def ctx(self, user: User) -> AuditContext:
        return AuditContext(actor_id=user.id, actor_role=user.role, client_address="127.0.0.1")

    async def add_patient(self, org: Organization | None = None, *, born: date = date(1990, 1, 2),
                          **fields: Any) -> Patient:
        patient = Patient(organization_id=(org or self.clinic).id,
                          first_name=fields.pop("first_name", "Alex"),
                          last_name=fields.pop("last_name", uuid.uuid4().hex[:8].title()),
                          date_of_birth=born, state="CA", **fields)
        self.db.add(patient)
        await self.db.flush()
        return patient

    async def add_case(
        self,
        *,
        org: Organization | None = None,
        patient: Patient | None = None,
        status: str = "submitted",
        urgency: str = "routine",
        due_in: timedelta = timedelta(hours=10),
        kind: str = "question",
        state: str = "CA",
        submitted_by: User | None = None,
        now: datetime | None = None,
        commit: bool = True,
        **fields: Any,
    ) -> Case:
        now = now or utcnow()
        org = org or self.clinic
        if patient is None:
            patient = self.patient if org.id == self.clinic.id else await self.add_patient(org)
        case = Case(
            organization_id=org.id,
            patient_id=patient.id,
            kind=kind,
            status=status,
            urgency=urgency,
            urgency_rank=queue_rank(urgency),
            questionnaire=fields.pop("questionnaire", {"pain": 3, "question": "Is this healing?"}),
            location_state=state,
            location_site=fields.pop("location_site", "home"),
            submitted_by_id=(submitted_by or self.patient_user).id,
            submitted_at=None if status == "draft" else now - timedelta(minutes=5),
            first_submitted_at=None if status == "draft" else now - timedelta(minutes=5),
            due_at=None if status == "draft" else now + due_in,
            **fields,
        )
        self.db.add(case)
        await self.db.flush()
        if commit:
            await self.db.commit()
        return case

    async def add_attachment(self, case: Case, *, view: str = "lower_occlusal",
                             kind: str = "photo", key: str | None = None) -> Attachment:
        """A row with stand-in blob keys (the review tests never read the pictures); its kind
        and view pass intake's own check, so no test sees a view intake would refuse."""
        meta = attachment_meta(kind, view, None)
        attachment = Attachment(
            case_id=case.id, organization_id=case.organization_id, kind=meta.kind,
            view=meta.view,
            media_type="jpeg", content_type="image/jpeg",
            original_key=key or f"test/{uuid.uuid4().hex}", display_key=key,
            thumbnail_key=key, received_sha256="0" * 64, received_size=10,
            original_sha256="0" * 64, original_size=10, width=10, height=10,
            uploaded_by_id=case.submitted_by_id,
        )
        self.db.add(attachment)
        await self.db.commit()
        return attachment

    async def add_dentist(self, email: str, *, orgs: tuple[Organization, ...] | None = None,
                          state: str | None = "CA", expires: date = date(2030, 1, 1),
                          password_hash: str | None = None) -> User:
        user = User(email=email, role=Role.DENTIST, display_name=email.split("@")[0],
                    password_hash=password_hash)
        user.organizations = list(orgs if orgs is not None else (self.clinic, self.school))
        self.db.add(user)
        await self.db.flush()
        if state:
            self.db.add(License(user_id=user.id, state=state, number=f"X{uuid.uuid4().hex[:6]}",
                                expires_on=expires))
        await self.db.commit()
        return user


async def load_world(db: AsyncSession) -> World:
    async def user(email: str) -> User:
        found = await db.scalar(select(User).where(User.email == email))
        assert found is not None
        return found

    clinic = await db.scalar(select(Organization).where(Organization.name == "Demo Dental Clinic"))
    school = await db.scalar(select(Organization).where(Organization.name == "Demo School Program"))
    patient = await db.scalar(select(Patient).where(Patient.email == "patient@demo.test"))
    assert clinic and school and patient
    return World(db, clinic, school, await user("dentist@demo.test"),
                 await user("dentist2@demo.test"), await user("hygienist@demo.test"),
                 await user("patient@demo.test"), patient)


@pytest.fixture
async def world(db: AsyncSession) -> World:
    await seed_demo(db, DEMO_PASSWORD)
    await db.commit()
    return await load_world(db)
