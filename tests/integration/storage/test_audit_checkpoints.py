"""The portal's own checkpoints: written in the background, never in the way of start-up,
shutdown or an outage of the blob store; the document carries no PHI and is signed."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from litestar.testing import AsyncTestClient

from portal.app import create_app
from portal.audit_checkpoints import checkpoint_loop
from portal.settings import Settings
from storage.audit import AuditContext, AuditKey, current_audit_key, record_event
from storage.audit_checkpoint import PREFIX, latest_checkpoint, parse_checkpoint
from storage.blobs import MemoryBlobStore
from storage.database import create_engine, create_session_maker


async def _wait_for(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_loop_writes_signed_heads_and_survives_an_outage(database_url: str) -> None:
    engine = create_engine(database_url)
    sessions = create_session_maker(engine)
    store = MemoryBlobStore()
    key = current_audit_key()
    async with sessions() as db:
        event = await record_event(db, "test.event", AuditContext(), details={"n": 1})
        await db.commit()
    store.available = False  # the first tries fail: logged, the loop goes on
    task = asyncio.create_task(checkpoint_loop(sessions, store, key, every_s=0.05,
                                               first_after_s=0))
    try:
        await asyncio.sleep(0.15)
        assert not task.done()
        store.available = True
        await _wait_for(lambda: any(k.startswith(PREFIX) for k in store._blobs))
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await engine.dispose()
    checkpoint = await latest_checkpoint(store, key)
    assert checkpoint is not None
    [head] = checkpoint.heads
    assert (head.chain, head.seq, head.mac, head.event_id) == ("global", 1, event.hash,
                                                              str(event.id))
    assert checkpoint.key.removeprefix(PREFIX).split("-")[0][:8].isdigit()
    raw = store.stored(checkpoint.key).data
    assert set(json.loads(raw)) == {"version", "written_at", "heads", "signature"}
    with pytest.raises(Exception, match="bad signature"):
        parse_checkpoint(checkpoint.key, raw, AuditKey.from_secret("x" * 40))


async def test_app_starts_and_stops_at_once_with_the_checkpoint_task(
    settings: Settings,
) -> None:
    started = time.monotonic()
    app = create_app(settings)
    async with AsyncTestClient(app=app) as client:
        assert (await client.get("/healthz")).status_code == 200
    assert time.monotonic() - started < 5
    # the first checkpoint waits a minute: a short-lived app writes none
    assert not (settings.var_dir / "blobs" / "audit-checkpoints").exists()
