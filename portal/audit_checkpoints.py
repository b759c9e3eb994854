"""The portal's own audit checkpoints: every ``TOOTHLINE_AUDIT_CHECKPOINT_MINUTES`` (60) each
portal process writes the signed heads of the audit chains to the blob store
(:mod:`storage.audit_checkpoint`), so a trail cut short is noticed even when nobody runs
``toothline audit checkpoint`` by hand.

The first one is written ``FIRST_AFTER_S`` after start-up, not during it: start-up never waits
on the database or the blob store for this, and short-lived apps (tests) write none. A failed
checkpoint is logged and tried again at the next interval; it never stops the portal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Final

from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.settings import Settings
from storage.audit import AuditKey
from storage.audit_checkpoint import write_checkpoint
from storage.blobs import BlobStore

log = logging.getLogger("toothline.audit.checkpoints")

FIRST_AFTER_S: Final = 60.0


async def checkpoint_loop(
    sessions: async_sessionmaker[AsyncSession], blobs: BlobStore, key: AuditKey,
    *, every_s: float, first_after_s: float = FIRST_AFTER_S,
) -> None:
    await asyncio.sleep(first_after_s)
    while True:
        try:
            async with sessions() as db:
                checkpoint = await write_checkpoint(db, blobs, key)
            log.info("audit checkpoint %s: %d chains", checkpoint.key, len(checkpoint.heads))
        except asyncio.CancelledError:
            raise
        except Exception:  # the database or the store is away: try again next time
            log.exception("audit checkpoint failed; trying again in %.0f s", every_s)
        await asyncio.sleep(every_s)


@contextlib.asynccontextmanager
async def audit_checkpoint_lifespan(app: Litestar) -> AsyncIterator[None]:
    """Listed after the lifespan that opens ``app.state.blobs``; stopped first."""
    settings: Settings = app.state.settings
    task = asyncio.create_task(
        checkpoint_loop(app.state.db_sessionmaker, app.state.blobs, app.state.audit_key,
                        every_s=settings.audit.checkpoint_minutes * 60.0),
        name="toothline-audit-checkpoints",
    )
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
