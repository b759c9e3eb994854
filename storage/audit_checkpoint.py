"""Signed checkpoints of the audit chains' heads, kept in the blob store (outside the database).

A checkpoint is one JSON document: the head (chain, seq, MAC, event id, time) of every chain,
signed with a key derived from the audit key for this purpose only. It is what makes the
end of a chain tamper-evident: deleting a chain's last events leaves no broken link, but the
chain then ends before the checkpointed seq, or no longer passes through the checkpointed
MAC. Only the latest checkpoint (greatest key) is compared; chains never disappear, so it
lists every chain older ones did.

Keys are ``audit-checkpoints/<UTC time>-<random>.json``: a time and random hex, no PHI, and
sorted by time. For real protection copy (or write) them to write-once storage (S3 object
lock): whoever can delete blobs can otherwise roll the checkpoints back too.
"""

from __future__ import annotations

import hmac
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.audit import AuditKey, BrokenLink
from storage.blobs import BlobStore
from storage.models import AuditEvent

PREFIX = "audit-checkpoints/"
VERSION = 1


class CheckpointInvalid(Exception):
    """The latest checkpoint is unreadable or its signature does not match the audit key."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"checkpoint {key}: {reason}")
        self.key = key
        self.reason = reason


@dataclass(frozen=True)
class Head:
    chain: str
    seq: int
    mac: str
    event_id: str
    occurred_at: str


@dataclass(frozen=True)
class Checkpoint:
    key: str
    written_at: str
    heads: list[Head]


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


async def current_heads(db: AsyncSession) -> list[Head]:
    """The last event of every chain, in chain order (one query)."""
    last = (
        select(AuditEvent.chain, func.max(AuditEvent.seq).label("seq"))
        .group_by(AuditEvent.chain)
        .subquery()
    )
    rows = (await db.execute(
        select(AuditEvent.chain, AuditEvent.seq, AuditEvent.hash, AuditEvent.id,
               AuditEvent.occurred_at)
        .join(last, (AuditEvent.chain == last.c.chain) & (AuditEvent.seq == last.c.seq))
        .order_by(AuditEvent.chain)
    )).all()
    return [
        Head(row.chain, int(row.seq), row.hash, str(row.id),
             row.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"))
        for row in rows
    ]


def new_checkpoint_key(now: datetime) -> str:
    stamp = now.astimezone(UTC).strftime("%Y%m%dt%H%M%S.%fz")
    return f"{PREFIX}{stamp}-{secrets.token_hex(8)}.json"


async def write_checkpoint(db: AsyncSession, blobs: BlobStore, key: AuditKey) -> Checkpoint:
    """Store the current heads, signed, under a fresh key; return what was written."""
    now = datetime.now(UTC)
    heads = await current_heads(db)
    body: dict[str, Any] = {
        "version": VERSION,
        "written_at": now.isoformat(timespec="microseconds"),
        "heads": [vars(head) for head in heads],
    }
    document = {**body, "signature": key.sign(_canonical(body))}
    blob_key = new_checkpoint_key(now)
    await blobs.put(blob_key, _canonical(document), content_type="application/json")
    return Checkpoint(blob_key, body["written_at"], heads)


async def latest_checkpoint_key(blobs: BlobStore) -> str | None:
    latest = None
    async for stat in blobs.list(PREFIX):
        if stat.key.endswith(".json") and (latest is None or stat.key > latest):
            latest = stat.key
    return latest


def parse_checkpoint(blob_key: str, raw: bytes, key: AuditKey) -> Checkpoint:
    """Check the signature (constant time) and the shape; raise :class:`CheckpointInvalid`."""
    try:
        document = json.loads(raw)
        signature = document.pop("signature")
        if not isinstance(signature, str):
            raise TypeError("signature")
    except (ValueError, TypeError, KeyError, AttributeError):
        raise CheckpointInvalid(blob_key, "not a signed checkpoint document") from None
    if not hmac.compare_digest(key.sign(_canonical(document)), signature):
        raise CheckpointInvalid(
            blob_key, "bad signature (checkpoint forged or altered, or another audit key)"
        )
    try:
        heads = [Head(str(h["chain"]), int(h["seq"]), str(h["mac"]), str(h["event_id"]),
                      str(h["occurred_at"])) for h in document["heads"]]
        return Checkpoint(blob_key, str(document["written_at"]), heads)
    except (KeyError, TypeError, ValueError):
        raise CheckpointInvalid(blob_key, "signed, but not a version-1 checkpoint") from None


async def latest_checkpoint(blobs: BlobStore, key: AuditKey) -> Checkpoint | None:
    """The latest checkpoint, verified; None when none was written yet."""
    blob_key = await latest_checkpoint_key(blobs)
    if blob_key is None:
        return None
    return parse_checkpoint(blob_key, await blobs.read(blob_key), key)


async def compare_with_checkpoint(db: AsyncSession, checkpoint: Checkpoint) -> list[BrokenLink]:
    """Each chain must still reach the checkpointed seq and carry the checkpointed MAC there."""
    broken: list[BrokenLink] = []
    for head in checkpoint.heads:
        event_id = _as_uuid(head.event_id)
        last_seq = await db.scalar(
            select(func.max(AuditEvent.seq)).where(AuditEvent.chain == head.chain)
        )
        if last_seq is None:
            broken.append(BrokenLink(head.chain, head.seq, event_id,
                                     "chain missing from the database, checkpointed at this seq"))
            continue
        if last_seq < head.seq:
            broken.append(BrokenLink(
                head.chain, head.seq, event_id,
                f"chain ends at seq {last_seq}, before the checkpointed seq {head.seq} "
                "(events removed from its end)",
            ))
            continue
        row = (await db.execute(select(AuditEvent.hash, AuditEvent.id).where(
            AuditEvent.chain == head.chain, AuditEvent.seq == head.seq))).first()
        if row is None or not hmac.compare_digest(row.hash, head.mac):
            broken.append(BrokenLink(
                head.chain, head.seq, row.id if row is not None else event_id,
                f"event does not carry the MAC checkpointed in {checkpoint.key} (rewritten)",
            ))
    return broken


def _as_uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        return uuid.UUID(int=0)
