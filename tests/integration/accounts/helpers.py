"""Shared helpers for the accounts, patients and admin integration tests."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any
from urllib.parse import urlencode

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from portal.accounts.passwords import hash_password
from storage.database import create_engine, create_session_maker
from storage.models import Organization, Patient, Role, User, patient_login
from tests.support.portal import DEMO_PASSWORD, csrf_token

Client = AsyncTestClient[Litestar]

OTHER_ORG = "Other Practice"
OTHER_DESK = "desk@other.test"
OTHER_PATIENT = "patient@other.test"


async def add_other_organization(database_url: str) -> dict[str, uuid.UUID]:
    """A third organization with a front-desk user and a patient login of its own."""
    engine = create_engine(database_url)
    try:
        async with create_session_maker(engine)() as db:
            org = Organization(name=OTHER_ORG, state="NV", time_zone="America/Los_Angeles")
            db.add(org)
            await db.flush()
            password_hash = hash_password(DEMO_PASSWORD)
            desk = User(email=OTHER_DESK, role=Role.FRONT_DESK, display_name="Other Desk",
                        password_hash=password_hash, organizations=[org])
            pat_user = User(email=OTHER_PATIENT, role=Role.PATIENT, display_name="Olive Other",
                            password_hash=password_hash, organizations=[org])
            patient = Patient(organization_id=org.id, first_name="Olive", last_name="Other",
                              date_of_birth=date(1990, 1, 1), state="NV",
                              email=OTHER_PATIENT)
            db.add_all([desk, pat_user, patient])
            await db.flush()
            await db.execute(patient_login.insert().values(user_id=pat_user.id,
                                                           patient_id=patient.id))
            ids = {"organization": org.id, "desk": desk.id, "patient": patient.id}
            await db.commit()
            return ids
    finally:
        await engine.dispose()


async def demo_ids(database_url: str) -> dict[str, uuid.UUID]:
    engine = create_engine(database_url)
    try:
        async with create_session_maker(engine)() as db:
            clinic = await db.scalar(
                select(Organization.id).where(Organization.name == "Demo Dental Clinic"))
            school = await db.scalar(
                select(Organization.id).where(Organization.name == "Demo School Program"))
            patient = await db.scalar(select(Patient.id).where(Patient.first_name == "Pat"))
            users = {u.email: u.id for u in (await db.scalars(select(User))).all()}
            assert clinic and school and patient
            return {"clinic": clinic, "school": school, "patient": patient,
                    **{email: uid for email, uid in users.items()}}
    finally:
        await engine.dispose()


async def post_form(client: Client, path: str, data: dict[str, Any] | list[tuple[str, str]],
                    **kwargs: Any) -> Any:
    """A urlencoded form post with the CSRF header; a list of pairs repeats a field."""
    token = await csrf_token(client)
    headers = {"x-csrftoken": token}
    if isinstance(data, list):
        headers["content-type"] = "application/x-www-form-urlencoded"
        return await client.post(path, content=urlencode(data), headers=headers,
                                 follow_redirects=False, **kwargs)
    return await client.post(path, data=data, headers=headers, follow_redirects=False,
                             **kwargs)


async def new_token(client: Client, email: str, password: str = DEMO_PASSWORD) -> str:
    response = await client.post("/api/v1/tokens",
                                 json={"email": email, "password": password, "name": "test"})
    assert response.status_code == 201, response.text
    return str(response.json()["token"])
