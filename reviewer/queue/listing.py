"""The review queue: what a dentist may take, most pressing first, a page at a time.

Order: ``urgency_rank`` (0 urgent), then ``due_at``, then ``id`` -- the columns of index
``ix_case_queue`` after ``status``. Pages are keyset pages: the cursor is the sort key of the
last row shown, so page 2,000 costs what page 1 costs.

Two index range scans feed a page, one per status (``submitted``, and ``in_review`` for
lapsed leases and the dentist's own claims); each is read in index order and the two short
lists are merged. A single ``status IN (...)`` scan would have to sort every candidate.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.cases.state import (
    CaseKind,
    CaseStatus,
    Urgency,
    is_overdue,
    targets_from_hours,
    time_left,
    turnaround,
)
from reviewer.clock import age_on, today_in
from reviewer.errors import Invalid
from reviewer.queue.scope import (
    ReviewScope,
    held_by,
    lease_lapsed,
    queue_rank,
    review_scope,
    urgency_of_rank,
)
from storage.models import Attachment, Case, Organization, Patient

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


class InvalidCursor(Invalid):
    code = "invalid_cursor"


@dataclass(frozen=True)
class QueueKey:
    """The sort key of one row; the cursor is the key of the last row of a page."""

    urgency_rank: int
    due_at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        raw = json.dumps(
            [self.urgency_rank, self.due_at.isoformat(), str(self.id)],
            separators=(",", ":"),
        )
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str) -> QueueKey:
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            rank, due, ident = json.loads(base64.urlsafe_b64decode(padded.encode()))
            if isinstance(rank, bool) or not isinstance(rank, int):
                raise ValueError("rank")
            due_at = datetime.fromisoformat(due)
            if due_at.tzinfo is None:
                raise ValueError("naive")
            return cls(rank, due_at, uuid.UUID(ident))
        except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
            raise InvalidCursor("The cursor is not one this queue handed out.") from None

    def sort_tuple(self) -> tuple[int, datetime, uuid.UUID]:
        return (self.urgency_rank, self.due_at, self.id)


@dataclass(frozen=True)
class QueueFilters:
    organization_id: uuid.UUID | None = None
    kind: CaseKind | None = None
    urgency: Urgency | None = None
    overdue: bool = False
    mine: bool = False
    cursor: str | None = None
    limit: int = PAGE_SIZE

    def query(self, *, cursor: str | None = None) -> dict[str, str]:
        """The filters as query-string parameters (for links and polling)."""
        out: dict[str, str] = {}
        if self.organization_id:
            out["organization"] = str(self.organization_id)
        if self.kind:
            out["kind"] = str(self.kind)
        if self.urgency:
            out["urgency"] = str(self.urgency)
        if self.overdue:
            out["overdue"] = "true"
        if self.mine:
            out["mine"] = "true"
        if cursor:
            out["cursor"] = cursor
        return out


@dataclass(frozen=True)
class QueueItem:
    id: uuid.UUID
    organization_id: uuid.UUID
    organization_name: str
    kind: str
    urgency: Urgency
    status: str
    patient_initials: str
    patient_age: int | None
    location_state: str
    submitted_at: datetime | None
    due_at: datetime | None
    time_left_s: int | None
    overdue: bool
    target_s: int
    claimed_by_me: bool
    lease_expires_at: datetime | None
    attachments: int
    time_zone: str

    @property
    def timing_class(self) -> str:
        """Badge class for the time left: overdue, under a quarter of the target, or fine."""
        if self.time_left_s is None:
            return "badge-info"
        if self.overdue:
            return "badge-overdue"
        if self.time_left_s < self.target_s / 4:
            return "badge-soon"
        return "badge-routine"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "organization_id": str(self.organization_id),
            "organization": self.organization_name,
            "kind": self.kind,
            "urgency": str(self.urgency),
            "status": self.status,
            "patient_initials": self.patient_initials,
            "patient_age": self.patient_age,
            "location_state": self.location_state,
            "submitted_at": _iso(self.submitted_at),
            "due_at": _iso(self.due_at),
            "time_left_seconds": self.time_left_s,
            "overdue": self.overdue,
            "claimed_by_me": self.claimed_by_me,
            "lease_expires_at": _iso(self.lease_expires_at),
            "attachments": self.attachments,
        }


@dataclass(frozen=True)
class QueuePage:
    items: list[QueueItem]
    next_cursor: str | None
    filters: QueueFilters

    def as_dict(self) -> dict[str, Any]:
        return {"items": [i.as_dict() for i in self.items], "next_cursor": self.next_cursor}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _after(key: QueueKey) -> ColumnElement[bool]:
    """Rows after ``key`` in queue order: one row-value comparison, which PostgreSQL turns
    into an index range (status = :s AND (urgency_rank, due_at, id) > (...))."""
    rank = bindparam("k_rank", key.urgency_rank, type_=Case.urgency_rank.type)
    due = bindparam("k_due", key.due_at, type_=Case.due_at.type)
    ident = bindparam("k_id", key.id, type_=Case.id.type)
    return tuple_(Case.urgency_rank, Case.due_at, Case.id) > tuple_(rank, due, ident)


def _branch(status_condition: ColumnElement[bool], conditions: list[ColumnElement[bool]],
            limit: int) -> Select[Any]:
    return (
        select(Case, Patient.first_name, Patient.last_name, Patient.date_of_birth,
               Organization.name, Organization.time_zone, Organization.turnaround_hours)
        .join(Patient, Patient.id == Case.patient_id)
        .join(Organization, Organization.id == Case.organization_id)
        .where(status_condition, *conditions)
        .order_by(Case.urgency_rank, Case.due_at, Case.id)
        .limit(limit)
    )


def _targets(hours: dict[str, Any] | None) -> Any:
    if not hours:
        return {}
    try:
        return targets_from_hours(hours)
    except ValueError:
        return {}


async def list_queue(
    db: AsyncSession, actor: Actor, filters: QueueFilters, *, now: datetime
) -> QueuePage:
    """One page of the actor's queue (empty for anyone who is not a licensed dentist)."""
    scope = await review_scope(db, actor, now)
    return await list_queue_in(db, scope, filters, now=now)


async def list_queue_in(
    db: AsyncSession, scope: ReviewScope, filters: QueueFilters, *, now: datetime
) -> QueuePage:
    limit = max(1, min(filters.limit, MAX_PAGE_SIZE))
    # Intake sets due_at at the first submission; the queue order needs it.
    conditions: list[ColumnElement[bool]] = [scope.condition(), Case.due_at.is_not(None)]
    if filters.organization_id is not None:
        conditions.append(Case.organization_id == filters.organization_id)
    if filters.kind is not None:
        conditions.append(Case.kind == str(filters.kind))
    if filters.urgency is not None:
        conditions.append(Case.urgency_rank == queue_rank(filters.urgency))
    if filters.overdue:
        conditions.append(Case.due_at < now)
    if filters.cursor:
        conditions.append(_after(QueueKey.decode(filters.cursor)))

    mine = held_by(scope.user_id, now)
    branches: list[Select[Any]] = []
    if not filters.mine:
        branches.append(_branch(Case.status == CaseStatus.SUBMITTED, conditions, limit + 1))
        in_review = and_(Case.status == CaseStatus.IN_REVIEW, or_(lease_lapsed(now), mine))
    else:
        in_review = mine
    branches.append(_branch(in_review, conditions, limit + 1))

    rows: list[Any] = []
    for branch in branches:
        rows.extend((await db.execute(branch)).all())
    rows.sort(key=lambda r: QueueKey(r[0].urgency_rank, r[0].due_at, r[0].id).sort_tuple())
    more = len(rows) > limit
    rows = rows[:limit]

    counts: dict[uuid.UUID, int] = {}
    if rows:
        counted = await db.execute(
            select(Attachment.case_id, func.count())
            .where(Attachment.case_id.in_([r[0].id for r in rows]))
            .group_by(Attachment.case_id)
        )
        counts = {case_id: int(n) for case_id, n in counted.all()}

    items = [
        _item(row, scope, now, counts.get(row[0].id, 0)) for row in rows
    ]
    last = rows[-1][0] if rows and more else None
    next_cursor = QueueKey(last.urgency_rank, last.due_at, last.id).encode() if last else None
    return QueuePage(items=items, next_cursor=next_cursor, filters=filters)


def _item(row: Any, scope: ReviewScope, now: datetime, attachments: int) -> QueueItem:
    case: Case = row[0]
    first, last, born, org_name, time_zone, hours = row[1:]
    urgency = urgency_of_rank(case.urgency_rank)
    target: timedelta = turnaround(urgency, _targets(hours), _kind(case.kind))
    left = time_left(case.due_at, now) if case.due_at else None
    return QueueItem(
        id=case.id,
        organization_id=case.organization_id,
        organization_name=org_name,
        kind=case.kind,
        urgency=urgency,
        status=case.status,
        patient_initials=f"{first[:1]}{last[:1]}".upper(),
        patient_age=age_on(born, today_in(time_zone, now=now)) if born else None,
        location_state=case.location_state,
        submitted_at=case.submitted_at,
        due_at=case.due_at,
        time_left_s=int(left.total_seconds()) if left is not None else None,
        overdue=bool(case.due_at and is_overdue(case.due_at, now)),
        target_s=int(target.total_seconds()),
        claimed_by_me=(
            case.status == CaseStatus.IN_REVIEW
            and case.claimed_by_id == scope.user_id
            and case.lease_expires_at is not None
            and case.lease_expires_at > now
        ),
        lease_expires_at=case.lease_expires_at,
        attachments=attachments,
        time_zone=time_zone,
    )


def _kind(kind: str) -> CaseKind | None:
    try:
        return CaseKind(kind)
    except ValueError:
        return None
