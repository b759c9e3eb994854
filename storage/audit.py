"""The audit trail: append-only, hash-chained events (one chain per organization).

Each event's hash covers its content and the previous event's hash, so editing or deleting
a row breaks the chain from there on; :func:`verify_chains` finds the first broken link.
Writers to one chain are serialized (a transaction-scoped advisory lock on PostgreSQL; the
database's single write lock on SQLite), writers to different chains do not wait on each
other on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEvent

GENESIS = "0" * 64
GLOBAL_CHAIN = "global"


@dataclass(frozen=True)
class AuditContext:
    """Who acts and from where; the portal builds one per request."""

    actor_id: uuid.UUID | None = None
    actor_role: str | None = None
    client_address: str | None = None
    user_agent: str | None = None


def _event_hash(event: AuditEvent) -> str:
    payload = {
        "chain": event.chain,
        "seq": event.seq,
        "organization_id": str(event.organization_id) if event.organization_id else None,
        "actor_id": str(event.actor_id) if event.actor_id else None,
        "actor_role": event.actor_role,
        "action": event.action,
        "subject_type": event.subject_type,
        "subject_id": event.subject_id,
        "client_address": event.client_address,
        "user_agent": event.user_agent,
        "details": event.details or {},
        "occurred_at": _utc(event.occurred_at).isoformat(timespec="microseconds"),
        "prev_hash": event.prev_hash,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def _lock_chain(db: AsyncSession, chain: str) -> None:
    if db.bind.dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(chain.encode()).digest()[:8], "big", signed=True)
        await db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    else:
        # Take SQLite's write lock now, so the read below sees the latest committed event.
        await db.execute(update(AuditEvent).where(AuditEvent.seq < 0).values(seq=AuditEvent.seq))


async def record_event(
    db: AsyncSession,
    action: str,
    context: AuditContext,
    *,
    organization_id: uuid.UUID | None = None,
    subject_type: str | None = None,
    subject_id: uuid.UUID | str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event (in the caller's transaction). ``details`` must hold no PHI."""
    chain = str(organization_id) if organization_id else GLOBAL_CHAIN
    await _lock_chain(db, chain)
    last = (
        await db.execute(
            select(AuditEvent.seq, AuditEvent.hash)
            .where(AuditEvent.chain == chain)
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        )
    ).first()
    event = AuditEvent(
        chain=chain,
        seq=(last.seq + 1) if last else 1,
        organization_id=organization_id,
        actor_id=context.actor_id,
        actor_role=context.actor_role,
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id) if subject_id is not None else None,
        client_address=context.client_address,
        user_agent=(context.user_agent or "")[:200] or None,
        details=details or {},
        occurred_at=datetime.now(UTC),
        prev_hash=last.hash if last else GENESIS,
    )
    event.hash = _event_hash(event)
    db.add(event)
    await db.flush()
    return event


@dataclass(frozen=True)
class BrokenLink:
    chain: str
    seq: int
    event_id: uuid.UUID
    reason: str


async def _chain_events(db: AsyncSession, chain: str) -> AsyncIterator[AuditEvent]:
    result = await db.stream_scalars(
        select(AuditEvent).where(AuditEvent.chain == chain).order_by(AuditEvent.seq)
    )
    async for event in result:
        yield event


async def verify_chains(db: AsyncSession) -> tuple[int, list[BrokenLink]]:
    """Walk every chain; return how many events were checked and the first break per chain."""
    chains = (await db.scalars(select(AuditEvent.chain).distinct())).all()
    checked = 0
    broken: list[BrokenLink] = []
    for chain in sorted(chains):
        expected_prev, expected_seq = GENESIS, 1
        async for event in _chain_events(db, chain):
            checked += 1
            reason = None
            if event.seq != expected_seq:
                reason = f"sequence jumps from {expected_seq - 1} to {event.seq} (row removed?)"
            elif event.prev_hash != expected_prev:
                reason = "previous-hash link does not match"
            elif _event_hash(event) != event.hash:
                reason = "content does not match its hash (row edited)"
            if reason:
                broken.append(BrokenLink(chain, event.seq, event.id, reason))
                break
            expected_prev, expected_seq = event.hash, event.seq + 1
    return checked, broken


async def count_events(db: AsyncSession) -> int:
    return int(await db.scalar(select(func.count()).select_from(AuditEvent)) or 0)
