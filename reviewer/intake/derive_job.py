"""Derivatives as a job of the job engine (docs/jobs.md): with SAQ, the display and thumbnail
of an upload are made by a ``toothline worker`` process, not by the portal that received it.

The upload route queues :data:`DERIVE_JOB` after its commit when the portal has no derivation
worker of its own (``portal/intake/worker.py`` runs one only with the in-process engine, where
it defers to uploads being received). The job is :func:`derive_attachment` with the pixel work
in a thread; an error leaves the row ``processing`` and raises, so the engine retries it, and
the workers' one-minute derivation sweep picks up a row whose job was lost.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reviewer.intake.derivation import derive_attachment, derive_in_thread
from storage.blobs import BlobStore

DERIVE_JOB: Final = "intake.derive"


def work_dir() -> Path:
    """Where a worker writes a file while it derives (deleted right after)."""
    return Path(tempfile.gettempdir()) / "toothline-derive"


async def derive_job(db: AsyncSession, blobs: BlobStore, payload: Mapping[str, str]) -> None:
    """``{"attachment_id": ...}``: make its views, unless done meanwhile ("gone", "lost")."""
    assert db.bind is not None
    sessions = async_sessionmaker(db.bind, expire_on_commit=False)  # derive_attachment's own
    await derive_attachment(
        sessions, blobs, uuid.UUID(payload["attachment_id"]), work_dir(), derive_in_thread
    )
