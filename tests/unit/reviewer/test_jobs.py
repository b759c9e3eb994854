"""reviewer.jobs: a job queued in a transaction reaches the session's sink once, after the
commit; a rollback drops it; a session without a sink drops it quietly."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from reviewer.jobs import SINK, after_commit


class Sink:
    def __init__(self) -> None:
        self.jobs: list[tuple[str, dict[str, str]]] = []

    def submit(self, job_name: str, payload: Mapping[str, str]) -> None:
        self.jobs.append((job_name, dict(payload)))


@pytest.fixture
async def engine() -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine("sqlite+aiosqlite:///:memory:")
    yield engine
    await engine.dispose()


async def test_jobs_run_after_commit_once_and_never_after_rollback(engine: AsyncEngine):
    sink = Sink()
    sessions = async_sessionmaker(engine, info={SINK: sink})
    async with sessions() as db:
        await db.execute(text("select 1"))
        after_commit(db, "billing.build_package", {"encounter_id": "a"})
        after_commit(db, "billing.build_package", {"encounter_id": "a"})  # queued once
        assert sink.jobs == []  # nothing before the commit
        await db.commit()
        assert sink.jobs == [("billing.build_package", {"encounter_id": "a"})]
        await db.execute(text("select 1"))
        after_commit(db, "billing.build_package", {"encounter_id": "b"})
        await db.rollback()
        await db.execute(text("select 1"))
        await db.commit()
    assert [p["encounter_id"] for _, p in sink.jobs] == ["a"]


async def test_a_session_without_a_sink_drops_its_jobs(engine: AsyncEngine):
    async with async_sessionmaker(engine)() as db:
        await db.execute(text("select 1"))
        after_commit(db, "billing.build_package", {"encounter_id": "a"})
        await db.commit()  # no sink: nothing happens, nothing fails
