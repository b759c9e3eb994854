"""Reading the view rows (``view_event``) in tests: reads of PHI are recorded there, not in
the chained audit trail (see storage/audit.py ``record_view``)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ViewEvent


async def view_actions(db: AsyncSession, subject_id: object | None = None) -> list[str]:
    """The actions of the view rows, oldest first (of one subject when given)."""
    db.expire_all()
    statement = select(ViewEvent.action).order_by(ViewEvent.occurred_at, ViewEvent.id)
    if subject_id is not None:
        statement = statement.where(ViewEvent.subject_id == str(subject_id))
    return list(await db.scalars(statement))


async def view_rows(db: AsyncSession) -> list[ViewEvent]:
    db.expire_all()
    return list(await db.scalars(select(ViewEvent).order_by(ViewEvent.occurred_at,
                                                            ViewEvent.id)))
