"""Idempotency-Key on the findings form: a repeated key (same user, same child) is answered
without saving again, another user's same key is their own, another child's is refused, and
two concurrent repeats save once (PostgreSQL: the second waits on the unique index)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from reviewer.actor import Actor
from reviewer.errors import Conflict, Invalid
from reviewer.idempotency import claim, clean_key
from storage.models import Case, IdempotencyRecord, User
from tests.integration.screening.conftest import FRONT_DESK, HYGIENIST, Client, children
from tests.integration.screening.test_children import save


async def _count(db: AsyncSession, model: type[Case] | type[IdempotencyRecord]) -> int:
    db.expire_all()
    return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_repeated_key_saves_nothing_new(
    hygienist: Client, event_id: str, db: AsyncSession
) -> None:
    kids = await children(hygienist, event_id)
    zoe, other = kids["S-1001"], kids["S-1002"]
    first = await save(hygienist, event_id, zoe, key="queued-1", treatment_urgency="urgent")
    assert first.status_code == 200, first.text
    # The queue re-sends the first save after a later correction went through: no undo.
    corrected = await save(hygienist, event_id, zoe, treatment_urgency="early")
    assert corrected.status_code == 200
    repeat = await save(hygienist, event_id, zoe, key="queued-1", treatment_urgency="urgent")
    assert repeat.status_code == 200 and "Saved." in repeat.text
    assert repeat.headers["x-case-id"] == first.headers["x-case-id"]
    db.expire_all()
    case = await db.scalar(select(Case))
    assert case is not None and case.screening["treatment_urgency"] == "early"
    assert await _count(db, Case) == 1 and await _count(db, IdempotencyRecord) == 2

    # The same key for another child is a mistake of the client: refused, nothing saved.
    reused = await save(hygienist, event_id, other, key="queued-1")
    assert reused.status_code == 422 and "different request" in reused.text
    assert await _count(db, Case) == 1
    bad = await save(hygienist, event_id, other, key="x" * 129)
    assert bad.status_code == 422 and await _count(db, Case) == 1


async def _actor(db: AsyncSession, email: str) -> Actor:
    user = await db.scalar(select(User).where(User.email == email))
    assert user is not None
    return Actor(user_id=user.id, role=str(user.role), organization_ids=frozenset())


async def test_another_users_same_key_is_their_own(client: Client, db: AsyncSession) -> None:
    hygienist, desk = await _actor(db, HYGIENIST), await _actor(db, FRONT_DESK)
    subject = str(uuid.uuid4())
    assert await claim(db, hygienist, "k-1", "screening.findings", subject) is None
    assert await claim(db, desk, "k-1", "screening.findings", subject) is None
    repeat = await claim(db, hygienist, "k-1", "screening.findings", subject)
    assert repeat is not None and repeat.user_id == hygienist.user_id
    with pytest.raises(Conflict):
        await claim(db, hygienist, "k-1", "screening.findings", str(uuid.uuid4()))
    await db.commit()
    assert await _count(db, IdempotencyRecord) == 2
    assert clean_key("  ") is None and clean_key(" a ") == "a"
    with pytest.raises(Invalid):
        clean_key("a\nb")


@pytest.mark.postgres
async def test_concurrent_repeats_claim_once(
    client: Client, db: AsyncSession, db_engine: AsyncEngine, database_url: str
) -> None:
    if not database_url.startswith("postgres"):
        pytest.skip("SQLite serialises writers: no concurrent transactions to race")
    hygienist = await _actor(db, HYGIENIST)
    subject = str(uuid.uuid4())
    sessions = async_sessionmaker(db_engine, expire_on_commit=False)
    async with sessions() as first, sessions() as second:
        assert await claim(first, hygienist, "race", "screening.findings", subject) is None
        waiting = asyncio.create_task(
            claim(second, hygienist, "race", "screening.findings", subject))
        await asyncio.sleep(0.3)
        assert not waiting.done()  # blocked on the first's uncommitted row
        await first.commit()
        found = await asyncio.wait_for(waiting, 10)
        assert found is not None
        await second.commit()
    assert await _count(db, IdempotencyRecord) == 1
