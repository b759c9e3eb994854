"""The audit trail: append-only events, chained per organization with keyed MACs.

Each event's link is an HMAC-SHA-256 over its content and the previous event's link, keyed
with ``TOOTHLINE_AUDIT_KEY`` (kept out of the database). Whoever can write the database but
lacks the key cannot delete or edit an event and recompute the following links: a plain
SHA-256 rehash, or a MAC under another key, is named by :func:`verify_chains`. Dropping the
last events of a chain leaves no broken link; the signed checkpoints of
:mod:`storage.audit_checkpoint` catch that.

The key reaches this module through :func:`configure_audit_key` (``create_app`` and the
``toothline`` command call it with the setting; tests with a test key), because ``storage``
must not import ``portal``. Functions that verify or rewrite take the key explicitly.

Writers to one chain are serialized (a transaction-scoped advisory lock on PostgreSQL; the
database's single write lock on SQLite), writers to different chains do not wait on each
other on PostgreSQL.

Reads of PHI by a person (``attachment.viewed``, ``case.viewed``, ``patient.viewed``...) are
not chained: :func:`record_view` appends one ``view_event`` row with its own MAC (a purpose
key of its own, so a view MAC never verifies as a link or a checkpoint) and takes no lock, so
concurrent views never serialize. An edited view row is named by :func:`verify_views`; a
deleted one is not (no chain): the database's grants are what keep rows from being deleted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils.compat import uuid7

from storage.models import AuditEvent, ViewEvent

GENESIS = "0" * 64
GLOBAL_CHAIN = "global"
MIN_KEY_LENGTH = 32


class AuditKeyMissing(RuntimeError):
    """An event was to be recorded before any audit key was configured."""


@dataclass(frozen=True)
class AuditKey:
    """The audit key, split into one derived key per purpose (links, checkpoints), so a MAC
    made for one purpose never verifies as the other."""

    link: bytes = field(repr=False)
    checkpoint: bytes = field(repr=False)
    view: bytes = field(repr=False)
    seal: bytes = field(repr=False, default=b"")
    """The AES-256-GCM key of stored credentials (``storage/sealed.py``)."""

    @classmethod
    def from_secret(cls, secret: str | bytes) -> AuditKey:
        raw = secret.encode() if isinstance(secret, str) else secret
        if len(raw) < MIN_KEY_LENGTH:
            raise ValueError(f"the audit key must be at least {MIN_KEY_LENGTH} characters")
        return cls(
            link=hmac.digest(raw, b"toothline audit link v1", "sha256"),
            checkpoint=hmac.digest(raw, b"toothline audit checkpoint v1", "sha256"),
            view=hmac.digest(raw, b"toothline audit view v1", "sha256"),
            seal=hmac.digest(raw, b"toothline credential seal v1", "sha256"),
        )

    def mac(self, message: bytes) -> str:
        return hmac.digest(self.link, message, "sha256").hex()

    def sign(self, message: bytes) -> str:
        return hmac.digest(self.checkpoint, message, "sha256").hex()

    def view_mac(self, message: bytes) -> str:
        return hmac.digest(self.view, message, "sha256").hex()


_configured: AuditKey | None = None


def configure_audit_key(secret: str | bytes | AuditKey) -> AuditKey:
    """Set the key :func:`record_event` uses in this process (the last call wins)."""
    global _configured
    _configured = secret if isinstance(secret, AuditKey) else AuditKey.from_secret(secret)
    return _configured


def current_audit_key() -> AuditKey:
    if _configured is None:
        raise AuditKeyMissing(
            "no audit key configured: call storage.audit.configure_audit_key "
            "(create_app and the toothline command do it from TOOTHLINE_AUDIT_KEY)"
        )
    return _configured


@dataclass(frozen=True)
class AuditContext:
    """Who acts and from where; the portal builds one per request."""

    actor_id: uuid.UUID | None = None
    actor_role: str | None = None
    client_address: str | None = None
    user_agent: str | None = None
    request_kind: str | None = None
    """``page``, ``htmx`` or ``api`` (kept on view rows only)."""


def _canonical(event: AuditEvent) -> bytes:
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
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()


def event_mac(event: AuditEvent, key: AuditKey) -> str:
    """The keyed link of an event (kept in ``AuditEvent.hash``)."""
    return key.mac(_canonical(event))


def legacy_event_hash(event: AuditEvent) -> str:
    """The unkeyed SHA-256 link of releases before the audit key: only read, to recognize
    old rows (``toothline audit rekey``) and rehashes by someone without the key."""
    return hashlib.sha256(_canonical(event)).hexdigest()


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
    """Append one event (in the caller's transaction). ``details`` must hold no PHI.

    Raises :class:`AuditKeyMissing` when no audit key is configured (nothing is written)."""
    key = current_audit_key()
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
    event.hash = event_mac(event, key)
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


async def chain_names(db: AsyncSession) -> list[str]:
    return sorted((await db.scalars(select(AuditEvent.chain).distinct())).all())


def _bad_mac_reason(event: AuditEvent) -> str:
    if hmac.compare_digest(legacy_event_hash(event), event.hash):
        return ("plain SHA-256 link, not a keyed MAC (rewritten without the audit key, "
                "or written before `toothline audit rekey`)")
    return "content does not match its MAC (row edited, or written with another audit key)"


async def verify_chains(db: AsyncSession, key: AuditKey) -> tuple[int, list[BrokenLink]]:
    """Walk every chain; return how many events were checked and the first break per chain.

    Only keyed links pass: a plain SHA-256 link is a break (no downgrade)."""
    checked = 0
    broken: list[BrokenLink] = []
    for chain in await chain_names(db):
        expected_prev, expected_seq = GENESIS, 1
        async for event in _chain_events(db, chain):
            checked += 1
            reason = None
            if event.seq != expected_seq:
                reason = f"sequence jumps from {expected_seq - 1} to {event.seq} (row removed?)"
            elif not hmac.compare_digest(event.prev_hash, expected_prev):
                reason = "previous link does not match (an event before it removed or rewritten)"
            elif not hmac.compare_digest(event_mac(event, key), event.hash):
                reason = _bad_mac_reason(event)
            if reason:
                broken.append(BrokenLink(chain, event.seq, event.id, reason))
                break
            expected_prev, expected_seq = event.hash, event.seq + 1
    return checked, broken


@dataclass(frozen=True)
class RekeyResult:
    chains: int
    events: int
    rekeyed: int
    """Links that were plain SHA-256 and now carry a MAC."""
    broken: list[BrokenLink]
    """Non-empty: nothing was changed (the transaction was rolled back)."""


REKEY_BATCH = 1000


async def rekey_chains(db: AsyncSession, key: AuditKey) -> RekeyResult:
    """Give every link a MAC under ``key``, once, after upgrading from unkeyed releases.

    A chain is accepted only as it can have grown: an intact plain SHA-256 prefix (the old
    release) followed by intact keyed links (events recorded after the upgrade). A break, or
    a plain link after a keyed one (a rehash by someone without the key), rolls everything
    back and is returned. Links are then rewritten from the first event on, since each MAC
    covers the previous link. Chains are locked as record_event locks them; the caller
    commits, then writes a checkpoint (and first checks the latest one: see the CLI)."""
    events = rekeyed = 0
    broken: list[BrokenLink] = []
    chains = await chain_names(db)
    for chain in chains:
        await _lock_chain(db, chain)
        old_prev = new_prev = GENESIS
        expected_seq, seen_keyed = 1, False
        while True:
            batch = (await db.scalars(
                select(AuditEvent).where(AuditEvent.chain == chain,
                                         AuditEvent.seq >= expected_seq)
                .order_by(AuditEvent.seq).limit(REKEY_BATCH)
            )).all()
            for event in batch:
                events += 1
                reason = None
                if event.seq != expected_seq:
                    reason = f"sequence jumps from {expected_seq - 1} to {event.seq}"
                elif not hmac.compare_digest(event.prev_hash, old_prev):
                    reason = "previous link does not match"
                elif hmac.compare_digest(event_mac(event, key), event.hash):
                    seen_keyed = True
                elif hmac.compare_digest(legacy_event_hash(event), event.hash):
                    if seen_keyed:
                        reason = "plain SHA-256 link after keyed links (rewritten without the key)"
                    rekeyed += 1
                else:
                    reason = _bad_mac_reason(event)
                if reason:
                    broken.append(BrokenLink(chain, event.seq, event.id, reason))
                    await db.rollback()
                    return RekeyResult(len(chains), events, 0, broken)
                old_prev = event.hash
                event.prev_hash = new_prev
                event.hash = new_prev = event_mac(event, key)
                expected_seq += 1
            await db.flush()
            for event in batch:
                db.expunge(event)
            if len(batch) < REKEY_BATCH:
                break
    return RekeyResult(len(chains), events, rekeyed, broken)


# --------------------------------------------------------------------------- views


def _uuid_text(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


def _view_canonical(view: ViewEvent) -> bytes:
    payload = {
        "v": 1,
        "id": str(view.id),
        "organization_id": _uuid_text(view.organization_id),
        "actor_id": _uuid_text(view.actor_id),
        "actor_role": view.actor_role,
        "action": view.action,
        "subject_type": view.subject_type,
        "subject_id": view.subject_id,
        "case_id": _uuid_text(view.case_id),
        "attachment_id": _uuid_text(view.attachment_id),
        "client_address": view.client_address,
        "user_agent": view.user_agent,
        "request_kind": view.request_kind,
        "details": view.details or {},
        "occurred_at": _utc(view.occurred_at).isoformat(timespec="microseconds"),
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()


def view_mac(view: ViewEvent, key: AuditKey) -> str:
    """The MAC of a view row (kept in ``ViewEvent.mac``); it covers every column but ``mac``
    and the ORM's created/updated stamps."""
    return key.view_mac(_view_canonical(view))


def record_view(
    db: AsyncSession,
    action: str,
    context: AuditContext,
    *,
    organization_id: uuid.UUID | None,
    subject_type: str,
    subject_id: uuid.UUID | str,
    case_id: uuid.UUID | None = None,
    attachment_id: uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
) -> ViewEvent:
    """Record that a person read PHI: one plain INSERT in the caller's transaction, no chain,
    no lock. ``details`` must hold no PHI.

    The row is only added to the session: it is written at the next flush (at the latest the
    request's commit), so on SQLite the database's write lock is held for the INSERT and the
    COMMIT, not for the rest of the request. Call it last, after the read succeeded.

    Raises :class:`AuditKeyMissing` when no audit key is configured (nothing is added)."""
    key = current_audit_key()
    view = ViewEvent(
        id=uuid7(),
        organization_id=organization_id,
        actor_id=context.actor_id,
        actor_role=context.actor_role,
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id),
        case_id=case_id,
        attachment_id=attachment_id,
        client_address=context.client_address,
        user_agent=(context.user_agent or "")[:200] or None,
        request_kind=context.request_kind,
        details=details or {},
        occurred_at=datetime.now(UTC),
    )
    view.mac = view_mac(view, key)
    db.add(view)
    return view


@dataclass(frozen=True)
class EditedView:
    view_id: uuid.UUID
    action: str
    occurred_at: datetime


async def verify_views(db: AsyncSession, key: AuditKey) -> tuple[int, list[EditedView]]:
    """Check every view row's MAC; return how many were checked and every row that fails
    (edited, or written under another audit key)."""
    checked = 0
    edited: list[EditedView] = []
    result = await db.stream_scalars(select(ViewEvent).order_by(ViewEvent.occurred_at,
                                                                ViewEvent.id))
    async for view in result:
        checked += 1
        if not hmac.compare_digest(view_mac(view, key), view.mac):
            edited.append(EditedView(view.id, view.action, view.occurred_at))
    return checked, edited


async def count_views(db: AsyncSession) -> int:
    return int(await db.scalar(select(func.count()).select_from(ViewEvent)) or 0)


async def count_events(db: AsyncSession) -> int:
    return int(await db.scalar(select(func.count()).select_from(AuditEvent)) or 0)
