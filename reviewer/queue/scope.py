"""Which cases a dentist may take: the SQL conditions shared by the queue and the claims.

A dentist reviews cases of the organizations they serve, from patients located (at the time
the data was gathered: ``Case.location_state``) in a state where they hold a current license.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.cases.state import CaseStatus, Urgency
from storage.models import Case, License, Role

QUEUE_RANK: dict[Urgency, int] = {u: u.queue_rank for u in Urgency}
"""``Case.urgency_rank`` (:attr:`Urgency.queue_rank`): 0 urgent, 1 soon, 2 routine -- the queue
sorts it ascending (index ``ix_case_queue``). Not :attr:`Urgency.rank`, which counts the other
way."""


def queue_rank(urgency: Urgency | str) -> int:
    """The value ``Case.urgency_rank`` holds for ``urgency`` (intake writes it at submission)."""
    return Urgency(urgency).queue_rank


def urgency_of_rank(rank: int) -> Urgency:
    for urgency, value in QUEUE_RANK.items():
        if value == rank:
            return urgency
    return Urgency.ROUTINE


@dataclass(frozen=True)
class ReviewScope:
    """The organizations a dentist serves and the states where their license is current."""

    user_id: uuid.UUID
    organization_ids: frozenset[uuid.UUID]
    states: frozenset[str]

    def condition(self) -> ColumnElement[bool]:
        if not self.organization_ids or not self.states:
            return false()
        return and_(
            Case.organization_id.in_(sorted(self.organization_ids, key=str)),
            Case.location_state.in_(sorted(self.states)),
        )

    def covers(self, case: Case) -> bool:
        return case.organization_id in self.organization_ids and case.location_state in self.states


async def licensed_states(db: AsyncSession, user_id: uuid.UUID, today: date) -> frozenset[str]:
    """States where the user holds a license that has not expired (``expires_on >= today``)."""
    rows = await db.scalars(
        select(License.state).where(License.user_id == user_id, License.expires_on >= today)
    )
    return frozenset(state.upper() for state in rows)


async def review_scope(db: AsyncSession, actor: Actor, now: datetime) -> ReviewScope:
    """The actor's reach in the queue; empty for anyone but a dentist."""
    if actor.role != Role.DENTIST:
        return ReviewScope(actor.user_id, frozenset(), frozenset())
    states = await licensed_states(db, actor.user_id, now.date())
    return ReviewScope(actor.user_id, frozenset(actor.organization_ids), states)


def lease_lapsed(now: datetime) -> ColumnElement[bool]:
    """An ``in_review`` case whose lease ran out (or that has none) at ``now``."""
    return or_(Case.lease_expires_at.is_(None), Case.lease_expires_at <= now)


def claimable(now: datetime) -> ColumnElement[bool]:
    """SQL twin of :func:`reviewer.cases.state.can_claim`."""
    return or_(
        Case.status == CaseStatus.SUBMITTED,
        and_(Case.status == CaseStatus.IN_REVIEW, lease_lapsed(now)),
    )


def held_by(user_id: uuid.UUID, now: datetime) -> ColumnElement[bool]:
    """A case the user holds right now (claimed, lease still running)."""
    return and_(
        Case.status == CaseStatus.IN_REVIEW,
        Case.claimed_by_id == user_id,
        Case.lease_expires_at > now,
    )
