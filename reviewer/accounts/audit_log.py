"""Reading the audit trail (admins only): filters, keyset pages, and CSV rows that a
spreadsheet cannot mistake for formulas.

The trail shown is both tables in one list, newest first: the chained events and the view
rows (``attachment.viewed``, ``case.viewed``...; see storage/audit.py). The same filters apply
to both; a view row shows ``views`` as its chain, no sequence number and its MAC as hash."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, Subquery, literal, null, select, type_coerce, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.errors import Forbidden
from storage.audit import AuditContext, record_event
from storage.models import AuditEvent, Role, ViewEvent

PAGE_SIZE = 50
EXPORT_LIMIT = 100_000
CSV_COLUMNS = (
    "occurred_at", "chain", "seq", "organization_id", "actor_id", "actor_role", "action",
    "subject_type", "subject_id", "client_address", "user_agent", "details", "hash",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "|", "%")
VIEW_CHAIN = "views"
"""What the chain column says for a view row (no organization chain is named so)."""


@dataclass(frozen=True)
class AuditFilter:
    action: str = ""
    """An exact action, or a prefix ending in "." (``session.``)."""
    actor_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None
    subject_id: str = ""
    since: date | None = None
    until: date | None = None
    """Inclusive, as calendar days in UTC."""


def _require_admin(actor: Actor) -> None:
    if actor.role != Role.ADMIN:
        raise Forbidden("Only an administrator can read the audit trail.")


def _conditions(model: type[AuditEvent] | type[ViewEvent],
                f: AuditFilter) -> list[ColumnElement[bool]]:
    """The filter on one table; both have the columns it uses."""
    where: list[ColumnElement[bool]] = []
    if f.action:
        if f.action.endswith("."):
            where.append(model.action.startswith(f.action, autoescape=True))
        else:
            where.append(model.action == f.action)
    if f.actor_id:
        where.append(model.actor_id == f.actor_id)
    if f.organization_id:
        where.append(model.organization_id == f.organization_id)
    if f.subject_id:
        where.append(model.subject_id == f.subject_id)
    if f.since:
        where.append(model.occurred_at >= datetime.combine(f.since, time.min, tzinfo=UTC))
    if f.until:
        where.append(model.occurred_at < datetime.combine(f.until + timedelta(days=1),
                                                           time.min, tzinfo=UTC))
    return where


@dataclass(frozen=True)
class TrailEntry:
    """One row of the trail as the page and the CSV show it, chained event or view."""

    id: uuid.UUID
    occurred_at: datetime
    chain: str
    seq: int | None
    organization_id: uuid.UUID | None
    actor_id: uuid.UUID | None
    actor_role: str | None
    action: str
    subject_type: str | None
    subject_id: str | None
    client_address: str | None
    user_agent: str | None
    details: dict[str, object]
    hash: str

    @property
    def is_view(self) -> bool:
        return self.seq is None


_TRAIL_COLUMNS = (
    "id", "occurred_at", "chain", "seq", "organization_id", "actor_id", "actor_role", "action",
    "subject_type", "subject_id", "client_address", "user_agent", "details", "hash",
    "case_id", "attachment_id", "request_kind",
)


def _trail(f: AuditFilter) -> Subquery:
    """Both tables, filtered, as one selectable with the columns of :class:`TrailEntry`
    (a view row's case, attachment and request kind go into its details)."""
    events = select(*(column.label(name) for name, column in zip(_TRAIL_COLUMNS, (
        AuditEvent.id, AuditEvent.occurred_at, AuditEvent.chain, AuditEvent.seq,
        AuditEvent.organization_id, AuditEvent.actor_id, AuditEvent.actor_role,
        AuditEvent.action, AuditEvent.subject_type, AuditEvent.subject_id,
        AuditEvent.client_address, AuditEvent.user_agent, AuditEvent.details,
        AuditEvent.hash,
        # typed, so the union's columns decode the view rows' values (the first SELECT
        # names the types)
        type_coerce(null(), ViewEvent.case_id.type),
        type_coerce(null(), ViewEvent.attachment_id.type),
        type_coerce(null(), ViewEvent.request_kind.type),
    ), strict=True))).where(*_conditions(AuditEvent, f))
    views = select(*(column.label(name) for name, column in zip(_TRAIL_COLUMNS, (
        ViewEvent.id, ViewEvent.occurred_at, literal(VIEW_CHAIN), null(),
        ViewEvent.organization_id, ViewEvent.actor_id, ViewEvent.actor_role,
        ViewEvent.action, ViewEvent.subject_type, ViewEvent.subject_id,
        ViewEvent.client_address, ViewEvent.user_agent, ViewEvent.details, ViewEvent.mac,
        ViewEvent.case_id, ViewEvent.attachment_id, ViewEvent.request_kind,
    ), strict=True))).where(*_conditions(ViewEvent, f))
    return union_all(events, views).subquery("trail")


def _entry(row: Row[Any]) -> TrailEntry:
    (id_, occurred_at, chain, seq, organization_id, actor_id, actor_role, action,
     subject_type, subject_id, client_address, user_agent, details, mac,
     case_id, attachment_id, request_kind) = row
    extra = {k: str(v) for k, v in (("case_id", case_id), ("attachment_id", attachment_id),
                                    ("request_kind", request_kind)) if v is not None}
    return TrailEntry(
        id=_as_uuid(id_), occurred_at=_as_utc(occurred_at), chain=chain,
        seq=int(seq) if seq is not None else None,
        organization_id=_as_uuid(organization_id) if organization_id else None,
        actor_id=_as_uuid(actor_id) if actor_id else None,
        actor_role=actor_role, action=action, subject_type=subject_type,
        subject_id=subject_id, client_address=client_address, user_agent=user_agent,
        details={**(details or {}), **extra}, hash=mac,
    )


def _as_uuid(value: object) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _as_utc(value: object) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@dataclass(frozen=True)
class AuditPage:
    events: Sequence[TrailEntry]
    next_cursor: str | None


async def browse(
    db: AsyncSession, actor: Actor, f: AuditFilter, *, before: str | None = None,
    limit: int = PAGE_SIZE,
) -> AuditPage:
    """Newest first, chained events and views together. The cursor is the last entry's
    (occurred_at, id) as text (ids are UUIDv7 in both tables)."""
    _require_admin(actor)
    trail = _trail(f)
    statement = select(trail)
    if before:
        try:
            stamp, _, raw_id = before.partition("_")
            moment, cursor_id = datetime.fromisoformat(stamp), uuid.UUID(raw_id)
        except ValueError:
            moment, cursor_id = None, None
        if moment is not None and cursor_id is not None:
            statement = statement.where(
                (trail.c.occurred_at < moment)
                | ((trail.c.occurred_at == moment) & (trail.c.id < cursor_id))
            )
    rows = [_entry(row) for row in (
        await db.execute(
            statement.order_by(trail.c.occurred_at.desc(), trail.c.id.desc()).limit(limit + 1)
        )
    ).all()]
    events = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = events[-1]
        next_cursor = f"{last.occurred_at.astimezone(UTC).isoformat()}_{last.id}"
    return AuditPage(events=events, next_cursor=next_cursor)


def safe_cell(value: object) -> str:
    """Text a spreadsheet shows as text: a leading =, +, -, @, tab, CR, | or % gets a quote
    in front (OWASP's advice for CSV injection)."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


def _row(event: TrailEntry) -> list[str]:
    values: list[object] = [
        event.occurred_at.astimezone(UTC).isoformat(), event.chain, event.seq,
        event.organization_id, event.actor_id, event.actor_role, event.action,
        event.subject_type, event.subject_id, event.client_address, event.user_agent,
        json.dumps(event.details or {}, sort_keys=True), event.hash,
    ]
    return [safe_cell(value) for value in values]


async def export_csv(db: AsyncSession, actor: Actor, f: AuditFilter) -> AsyncIterator[str]:
    """The filtered trail (chained events and views) as CSV text chunks, oldest first
    (header first). The export is itself an audit event."""
    _require_admin(actor)
    await record_event(
        db, "audit.exported", AuditContext(actor_id=actor.user_id, actor_role=actor.role,
                                           client_address=actor.client_address),
        details={"filter": {k: str(v) for k, v in vars(f).items() if v}},
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    trail = _trail(f)
    result = await db.stream(
        select(trail).order_by(trail.c.occurred_at, trail.c.id).limit(EXPORT_LIMIT)
    )
    count = 0
    async for row in result:
        writer.writerow(_row(_entry(row)))
        count += 1
        if count % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
