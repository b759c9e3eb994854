"""Idempotency keys for writes a browser may send more than once (a tablet's offline queue
re-sending after a dropped connection, a double tap).

A write done under a key leaves an :class:`~storage.models.IdempotencyRecord` for (user,
key); a repeat finds it and the caller answers from it instead of writing again. The row is
inserted *before* the write, in a savepoint, inside the write's own transaction: a refused
write rolls it back with everything else, and of two concurrent repeats the second blocks on
the unique index until the first commits, then fails and finds the first's row.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from reviewer.actor import Actor
from reviewer.errors import Conflict, Invalid
from storage.models import IdempotencyRecord

MAX_KEY = 128


def clean_key(raw: str | None) -> str | None:
    """The key as sent, or None when none was sent; Invalid when it is not 1 to 128
    printable characters."""
    if raw is None or not raw.strip():
        return None
    key = raw.strip()
    if len(key) > MAX_KEY or not key.isprintable():
        raise Invalid(f"The Idempotency-Key is 1 to {MAX_KEY} printable characters.",
                      code="bad_idempotency_key")
    return key


async def _existing(db: AsyncSession, actor: Actor, key: str) -> IdempotencyRecord | None:
    found: IdempotencyRecord | None = await db.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.user_id == actor.user_id, IdempotencyRecord.key == key
        )
    )
    return found


def _same_request(row: IdempotencyRecord, scope: str, subject_id: str) -> IdempotencyRecord:
    if row.scope != scope or row.subject_id != subject_id:
        raise Conflict("This Idempotency-Key was already used for a different request.",
                       code="idempotency_key_reused")
    return row


async def claim(
    db: AsyncSession, actor: Actor, key: str, scope: str, subject_id: str,
) -> IdempotencyRecord | None:
    """None when ``key`` is new for this user (it is now held for this write); the first
    write's record when it was seen before. A key used for another kind of write or another
    subject is a Conflict."""
    found = await _existing(db, actor, key)
    if found is not None:
        return _same_request(found, scope, subject_id)
    row = IdempotencyRecord(user_id=actor.user_id, key=key, scope=scope,
                            subject_id=subject_id, result={})
    try:
        async with db.begin_nested():
            db.add(row)
            await db.flush()
    except IntegrityError:
        # A concurrent request with the same key committed first.
        found = await _existing(db, actor, key)
        if found is None:  # pragma: no cover - the unique index said it exists
            raise
        return _same_request(found, scope, subject_id)
    return None

