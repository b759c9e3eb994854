"""Claims: one dentist per case, as a lease.

"Next case" is ONE statement on both databases (docs/architecture.md, flow 2)::

    UPDATE case SET status = 'in_review', claimed_by_id = :me, lease_expires_at = :until
     WHERE id = (<the most pressing claimable case in the dentist's scope>)   -- sub-select
       AND <still claimable at :now>                                           -- guard
    RETURNING id

On PostgreSQL the sub-select reads with ``FOR UPDATE SKIP LOCKED``, so concurrent claimers
step over each other's candidates instead of queueing on them; the guard is re-evaluated
on the newest row version, so a lost race updates nothing. SQLite runs one writer at a time,
which makes the same statement atomic there.

A PostgreSQL sub-select with ``FOR UPDATE`` and ``LIMIT`` can come back empty when its
candidate changed under it (the re-check drops the row and LIMIT does not look further), so
an empty answer is retried a few times while claimable cases remain.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, or_, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.access import get_case
from reviewer.actor import Actor
from reviewer.cases.state import (
    DEFAULT_LEASE,
    CaseAction,
    CaseStatus,
    lease_expires_at,
    transition,
)
from reviewer.errors import Conflict, Forbidden
from reviewer.queue.scope import (
    ReviewScope,
    claimable,
    held_by,
    lease_lapsed,
    review_scope,
)
from storage.audit import AuditContext, record_event
from storage.models import Case

CLAIM_ATTEMPTS = 5


class CaseTaken(Conflict):
    """Another dentist holds the case (HTTP 409, code ``case_taken``)."""

    code = "case_taken"


class NotClaimant(Conflict):
    """The caller does not hold the case's claim (HTTP 409, code ``not_claimant``)."""

    code = "not_claimant"


class NotLicensed(Forbidden):
    code = "not_licensed"


def _is_postgres(db: AsyncSession) -> bool:
    return db.bind.dialect.name == "postgresql"


def _first(
    status_condition: ColumnElement[bool], scope: ReviewScope, *, lock: bool
) -> Select[Any]:
    query = (
        select(Case.id, Case.urgency_rank, Case.due_at)
        .where(status_condition, scope.condition(), Case.due_at.is_not(None))
        .order_by(Case.urgency_rank, Case.due_at, Case.id)
        .limit(1)
    )
    if lock:
        query = query.with_for_update(skip_locked=True)
    return select(query.subquery())


def next_candidate(scope: ReviewScope, now: datetime, *, lock: bool) -> ColumnElement[uuid.UUID]:
    """The id of the most pressing claimable case in ``scope`` (a scalar sub-select).

    The best waiting (``submitted``) case and the best lapsed (``in_review``, lease run out)
    case are each found by an index range scan; the better of the two wins.
    """
    both = union_all(
        _first(Case.status == CaseStatus.SUBMITTED, scope, lock=lock),
        _first(and_(Case.status == CaseStatus.IN_REVIEW, lease_lapsed(now)), scope, lock=lock),
    ).subquery("candidate")
    return (
        select(both.c.id)
        .order_by(both.c.urgency_rank, both.c.due_at, both.c.id)
        .limit(1)
        .scalar_subquery()
    )


def _claim_values(user_id: uuid.UUID, now: datetime, lease: timedelta) -> dict[str, object]:
    return {
        "status": transition(CaseStatus.SUBMITTED, CaseAction.CLAIM).value,
        "claimed_by_id": user_id,
        "lease_expires_at": lease_expires_at(now, lease),
        "updated_at": now,
    }


async def _load(db: AsyncSession, case_id: uuid.UUID) -> Case:
    case = await db.scalar(
        select(Case).where(Case.id == case_id).execution_options(populate_existing=True)
    )
    assert case is not None
    return case


async def claim_next_in(
    db: AsyncSession,
    scope: ReviewScope,
    context: AuditContext,
    *,
    now: datetime,
    lease: timedelta = DEFAULT_LEASE,
) -> Case | None:
    """Claim the most pressing case in ``scope``; ``None`` when nothing waits."""
    pg = _is_postgres(db)
    for _ in range(CLAIM_ATTEMPTS):
        statement = (
            update(Case)
            .where(Case.id == next_candidate(scope, now, lock=pg), claimable(now))
            .values(**_claim_values(scope.user_id, now, lease))
            .returning(Case.id)
            .execution_options(synchronize_session=False)
        )
        claimed = (await db.execute(statement)).scalar_one_or_none()
        if claimed is not None:
            case = await _load(db, claimed)
            await _audit(db, "case.claimed", context, case, {"how": "next"})
            return case
        if not pg:
            return None
        waiting = await db.scalar(
            select(exists().where(claimable(now), scope.condition(), Case.due_at.is_not(None)))
        )
        if not waiting:
            return None
    return None


async def claim_next(
    db: AsyncSession,
    actor: Actor,
    context: AuditContext,
    *,
    now: datetime,
    lease: timedelta = DEFAULT_LEASE,
) -> Case | None:
    """"Next case" for a dentist: the most pressing claimable case, claimed atomically."""
    scope = await review_scope(db, actor, now)
    return await claim_next_in(db, scope, context, now=now, lease=lease)


async def claim_case(
    db: AsyncSession,
    actor: Actor,
    context: AuditContext,
    case_id: uuid.UUID,
    *,
    now: datetime,
    lease: timedelta = DEFAULT_LEASE,
) -> Case:
    """Claim one case (or renew the claim the actor already holds).

    404 outside the actor's reach, 403 ``not_licensed`` outside their licensed states, 409
    ``case_taken`` when another dentist holds it, 409 ``invalid_transition`` when its status
    cannot be claimed (a draft, a reviewed case...).
    """
    scope = await review_scope(db, actor, now)
    statement = (
        update(Case)
        .where(
            Case.id == case_id,
            scope.condition(),
            or_(claimable(now), and_(Case.status == CaseStatus.IN_REVIEW,
                                     Case.claimed_by_id == actor.user_id)),
        )
        .values(**_claim_values(actor.user_id, now, lease))
        .returning(Case.id)
        .execution_options(synchronize_session=False)
    )
    claimed = (await db.execute(statement)).scalar_one_or_none()
    if claimed is None:
        case = await _visible_case(db, actor, case_id)
        if not scope.covers(case):
            raise NotLicensed("You hold no current license where this patient is located.")
        transition(case.status, CaseAction.CLAIM)  # raises for a draft, needs_info, reviewed...
        raise CaseTaken("Another dentist is reviewing this case.")
    case = await _load(db, claimed)
    await _audit(db, "case.claimed", context, case, {"how": "specific"})
    return case


async def _visible_case(db: AsyncSession, actor: Actor, case_id: uuid.UUID) -> Case:
    case = await get_case(db, actor, case_id)
    await db.refresh(case)
    return case


async def held_case(db: AsyncSession, actor: Actor, case_id: uuid.UUID) -> Case:
    """The case, which the actor must hold (claimed by them; the lease may have lapsed as long
    as nobody else took it). Raises 404 / 409 ``invalid_transition`` / 409 ``not_claimant``."""
    case = await _visible_case(db, actor, case_id)
    if case.status != CaseStatus.IN_REVIEW:
        return case  # the caller's transition() check says why not
    if case.claimed_by_id != actor.user_id:
        raise NotClaimant("Only the dentist who claimed this case may do that; claim it first.")
    return case


async def renew_lease(
    db: AsyncSession,
    actor: Actor,
    case_id: uuid.UUID,
    *,
    now: datetime,
    lease: timedelta = DEFAULT_LEASE,
) -> Case:
    """Extend the actor's claim (the page calls it every few minutes, and every draft save)."""
    case = await held_case(db, actor, case_id)
    transition(case.status, CaseAction.CLAIM)
    case.lease_expires_at = lease_expires_at(now, lease)
    await db.flush()
    return case


async def release_case(
    db: AsyncSession, actor: Actor, context: AuditContext, case_id: uuid.UUID, *, now: datetime
) -> Case:
    """Give the case back to the queue; the draft evaluation stays."""
    case = await held_case(db, actor, case_id)
    case.status = transition(case.status, CaseAction.RELEASE).value
    case.claimed_by_id = None
    case.lease_expires_at = None
    await db.flush()
    await _audit(db, "case.released", context, case, {"how": "by_hand"})
    return case


async def expire_leases(db: AsyncSession, context: AuditContext, *, now: datetime) -> int:
    """Put every case whose lease ran out back to ``submitted`` (a housekeeping sweep).

    Not needed for correctness -- the queue and the claim treat a lapsed lease as free -- but
    it keeps the status honest for reports. Returns how many cases went back.
    """
    lapsed = list(
        await db.scalars(
            select(Case)
            .where(Case.status == CaseStatus.IN_REVIEW, Case.lease_expires_at <= now)
            .with_for_update(skip_locked=True)
        )
    )
    for case in lapsed:
        case.status = transition(case.status, CaseAction.EXPIRE_LEASE).value
        case.claimed_by_id = None
        case.lease_expires_at = None
        await _audit(db, "case.released", context, case, {"how": "lease_expired"})
    await db.flush()
    return len(lapsed)


def holds(case: Case, user_id: uuid.UUID, now: datetime) -> bool:
    """Whether ``user_id`` holds ``case`` at ``now`` (claimed, lease running)."""
    return (
        case.status == CaseStatus.IN_REVIEW
        and case.claimed_by_id == user_id
        and case.lease_expires_at is not None
        and case.lease_expires_at > now
    )


async def _audit(
    db: AsyncSession, action: str, context: AuditContext, case: Case, details: dict[str, object]
) -> None:
    await record_event(
        db,
        action,
        context,
        organization_id=case.organization_id,
        subject_type="case",
        subject_id=case.id,
        details={**details, "status": case.status},
    )


__all__ = [
    "CaseTaken",
    "NotClaimant",
    "NotLicensed",
    "claim_case",
    "claim_next",
    "claim_next_in",
    "expire_leases",
    "held_by",
    "held_case",
    "holds",
    "next_candidate",
    "release_case",
    "renew_lease",
]
