"""Which patient records a patient-role login may see (their own, and linked children)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from storage.models import User


async def linked_patient_ids(db: AsyncSession, user: User) -> frozenset[uuid.UUID]:
    return frozenset()
