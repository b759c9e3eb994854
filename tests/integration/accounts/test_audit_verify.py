"""``toothline audit verify``: an intact trail passes; editing one row names it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from portal.cli import main
from portal.settings import get_settings
from storage.audit import AuditContext, record_event
from storage.database import create_engine, create_session_maker
from storage.models import AuditEvent
from tests.support.portal import make_settings


async def _write_events(url: str) -> list[int]:
    engine = create_engine(url)
    try:
        async with create_session_maker(engine)() as db:
            for n in range(4):
                await record_event(db, "test.event", AuditContext(), details={"n": n})
            await db.commit()
            return list((await db.scalars(select(AuditEvent.seq))).all())
    finally:
        await engine.dispose()


async def _tamper(url: str, seq: int) -> str:
    engine = create_engine(url)
    try:
        async with create_session_maker(engine)() as db:
            await db.execute(update(AuditEvent).where(AuditEvent.seq == seq)
                             .values(details={"n": 99}))
            await db.commit()
            event_id = await db.scalar(select(AuditEvent.id).where(AuditEvent.seq == seq))
            return str(event_id)
    finally:
        await engine.dispose()


def test_audit_verify_names_the_edited_row(
    monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path
) -> None:
    make_settings(monkeypatch, database_url, tmp_path)
    get_settings.cache_clear()
    asyncio.run(_write_events(database_url))
    runner = CliRunner()
    ok = runner.invoke(main, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "intact: 4 events" in ok.output
    event_id = asyncio.run(_tamper(database_url, 3))
    broken = runner.invoke(main, ["audit", "verify"])
    assert broken.exit_code == 1
    assert f"seq 3 (event {event_id})" in broken.output
    assert "row edited" in broken.output
    get_settings.cache_clear()
