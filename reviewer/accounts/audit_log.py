"""Reading the audit trail (admins only): filters, keyset pages, and CSV rows that a
spreadsheet cannot mistake for formulas."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.errors import Forbidden
from storage.audit import AuditContext, record_event
from storage.models import AuditEvent, Role

PAGE_SIZE = 50
EXPORT_LIMIT = 100_000
CSV_COLUMNS = (
    "occurred_at", "chain", "seq", "organization_id", "actor_id", "actor_role", "action",
    "subject_type", "subject_id", "client_address", "user_agent", "details", "hash",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "|", "%")


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


def _filtered(f: AuditFilter) -> Select[tuple[AuditEvent]]:
    statement = select(AuditEvent)
    if f.action:
        if f.action.endswith("."):
            statement = statement.where(AuditEvent.action.startswith(f.action, autoescape=True))
        else:
            statement = statement.where(AuditEvent.action == f.action)
    if f.actor_id:
        statement = statement.where(AuditEvent.actor_id == f.actor_id)
    if f.organization_id:
        statement = statement.where(AuditEvent.organization_id == f.organization_id)
    if f.subject_id:
        statement = statement.where(AuditEvent.subject_id == f.subject_id)
    if f.since:
        statement = statement.where(
            AuditEvent.occurred_at >= datetime.combine(f.since, time.min, tzinfo=UTC)
        )
    if f.until:
        statement = statement.where(
            AuditEvent.occurred_at < datetime.combine(f.until + timedelta(days=1), time.min,
                                                      tzinfo=UTC)
        )
    return statement


@dataclass(frozen=True)
class AuditPage:
    events: Sequence[AuditEvent]
    next_cursor: str | None


async def browse(
    db: AsyncSession, actor: Actor, f: AuditFilter, *, before: str | None = None,
    limit: int = PAGE_SIZE,
) -> AuditPage:
    """Newest first. The cursor is the last event's (occurred_at, id) as text."""
    _require_admin(actor)
    statement = _filtered(f)
    if before:
        try:
            stamp, _, raw_id = before.partition("_")
            moment, cursor_id = datetime.fromisoformat(stamp), uuid.UUID(raw_id)
        except ValueError:
            moment, cursor_id = None, None
        if moment is not None and cursor_id is not None:
            statement = statement.where(
                (AuditEvent.occurred_at < moment)
                | ((AuditEvent.occurred_at == moment) & (AuditEvent.id < cursor_id))
            )
    rows = (
        await db.scalars(
            statement.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc()).limit(
                limit + 1
            )
        )
    ).all()
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


def _row(event: AuditEvent) -> list[str]:
    values: list[object] = [
        event.occurred_at.astimezone(UTC).isoformat(), event.chain, event.seq,
        event.organization_id, event.actor_id, event.actor_role, event.action,
        event.subject_type, event.subject_id, event.client_address, event.user_agent,
        json.dumps(event.details or {}, sort_keys=True), event.hash,
    ]
    return [safe_cell(value) for value in values]


async def export_csv(db: AsyncSession, actor: Actor, f: AuditFilter) -> AsyncIterator[str]:
    """The filtered trail as CSV text chunks, oldest first (header first). The export is
    itself an audit event."""
    _require_admin(actor)
    await record_event(
        db, "audit.exported", AuditContext(actor_id=actor.user_id, actor_role=actor.role,
                                           client_address=actor.client_address),
        details={"filter": {k: str(v) for k, v in vars(f).items() if v}},
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    result = await db.stream_scalars(
        _filtered(f).order_by(AuditEvent.occurred_at, AuditEvent.id).limit(EXPORT_LIMIT)
    )
    count = 0
    async for event in result:
        writer.writerow(_row(event))
        count += 1
        if count % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
