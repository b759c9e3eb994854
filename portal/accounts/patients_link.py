"""Which patient records a patient-role login may see (their own, and linked children)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Role, User, patient_login


async def linked_patient_ids(db: AsyncSession, user: User) -> frozenset[uuid.UUID]:
    if user.role != Role.PATIENT:
        return frozenset()
    rows = await db.scalars(
        select(patient_login.c.patient_id).where(patient_login.c.user_id == user.id)
    )
    return frozenset(rows.all())
