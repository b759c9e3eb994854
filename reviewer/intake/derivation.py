"""Derivatives made after the answer: an attachment stored as ``processing`` gets its display
and thumbnail JPEGs here, and only then becomes ``ready``.

Each step uses its own short database session (the upload's transaction is long committed):
read the row, fetch the cleaned original from the blob store into a work folder, run
``storage.media.derive_views`` (through ``run``: the portal passes a low-priority process
pool, the CLI a worker thread), store the two JPEGs, then flip the row with a conditional
``UPDATE … WHERE status = 'processing'``. Two processes that derive the same row (both picked
it up as stale) cannot both win: the loser deletes the blobs it wrote. A row removed in the
meantime is a loser too.

A derivation that fails for a passing reason (blob store or database away) leaves the row
``processing``; :func:`pending_attachment_ids` finds it again. One that cannot ever succeed
(``MediaRefused`` — validation let through a file ``derive_views`` cannot read, which the
media tests rule out) marks the row ``ready`` without views and logs an error, so it is not
retried for ever; its display and thumbnail then answer 404.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal

import anyio
from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reviewer.intake.attachments import delete_blobs, put_views, quality_json
from reviewer.intake.identity import HELD
from storage.blobs import BlobNotFound, BlobStore, PutResult
from storage.media import MediaRefused, MediaType, Views, derive_views
from storage.models import Attachment

log = logging.getLogger("toothline.intake.derivation")

STALE_AFTER: Final = timedelta(minutes=1)
"""A row still ``processing`` this long after its upload lost its worker (a process died)."""

DeriveRunner = Callable[[Path, MediaType], Awaitable[Views]]
Outcome = Literal["ready", "gone", "lost", "failed"]
_status_after = case(
    (Attachment.dicom_identity.is_not(None), HELD), else_="ready"
)
"""A file held for an identity check (reviewer.intake.identity) stays out of use once its
views exist: ``identity_mismatch``, not ``ready``."""


async def derive_in_thread(path: Path, media_type: MediaType) -> Views:
    """A :data:`DeriveRunner` for one-off use (CLI, tests): a worker thread."""
    return await anyio.to_thread.run_sync(derive_views, path, media_type)


@dataclass(frozen=True, slots=True)
class _Pending:
    id: uuid.UUID
    original_key: str
    media_type: MediaType
    provenance: dict[str, Any]
    kind: str


async def pending_attachment_ids(
    db: AsyncSession,
    *,
    older_than: timedelta | None = None,
    now: datetime | None = None,
    case_id: uuid.UUID | None = None,
) -> list[uuid.UUID]:
    """Attachments still ``processing`` (only those uploaded ``older_than`` ago, or of one
    case, if given), oldest first."""
    query = select(Attachment.id).where(Attachment.status == "processing")
    if case_id is not None:
        query = query.where(Attachment.case_id == case_id)
    if older_than is not None:
        query = query.where(Attachment.created_at <= (now or datetime.now(UTC)) - older_than)
    return list(await db.scalars(query.order_by(Attachment.created_at)))


async def _load(
    sessions: async_sessionmaker[AsyncSession], attachment_id: uuid.UUID
) -> _Pending | None:
    async with sessions() as db:
        row = await db.scalar(
            select(Attachment).where(
                Attachment.id == attachment_id, Attachment.status == "processing"
            )
        )
        if row is None:
            return None
        return _Pending(row.id, row.original_key, row.media_type,  # type: ignore[arg-type]
                        dict(row.provenance or {}), row.kind)


async def _fetch(blobs: BlobStore, key: str, path: Path) -> None:
    reader = await blobs.open(key)
    async with await anyio.open_file(path, "xb") as out:
        async for chunk in reader:
            await out.write(chunk)


async def _finish(
    sessions: async_sessionmaker[AsyncSession], pending: _Pending, values: dict[str, Any]
) -> bool:
    """Flip the row if it is still ``processing``; False when another process won (or the
    row is gone)."""
    async with sessions() as db:
        result = await db.execute(
            update(Attachment)
            .where(Attachment.id == pending.id, Attachment.status == "processing")
            .values(status=_status_after, **values)
            .execution_options(synchronize_session=False)
        )
        await db.commit()
        return bool(getattr(result, "rowcount", 0) == 1)


async def derive_attachment(
    sessions: async_sessionmaker[AsyncSession],
    blobs: BlobStore,
    attachment_id: uuid.UUID,
    workdir: Path,
    run: DeriveRunner = derive_in_thread,
) -> Outcome:
    """Make and store the views of one ``processing`` attachment and mark it ``ready``.

    Returns "ready", "gone" (no such row still processing: nothing to do), "lost" (another
    process finished first or the row was removed meanwhile; our blobs were deleted) or
    "failed" (the views cannot be made: marked ready without views). Other errors propagate
    with the row left ``processing`` for a later try.
    """
    pending = await _load(sessions, attachment_id)
    if pending is None:
        return "gone"
    await anyio.Path(workdir).mkdir(parents=True, exist_ok=True)
    path = workdir / f"derive-{secrets.token_hex(12)}"
    written: list[str] = []
    try:
        try:
            await _fetch(blobs, pending.original_key, path)
            views = await run(path, pending.media_type)
        except (MediaRefused, BlobNotFound) as exc:
            log.error("attachment %s: views cannot be made: %r", attachment_id, exc)
            provenance = {**pending.provenance, "derived": [], "derive_failed": str(exc)}
            await _finish(sessions, pending, {"provenance": provenance})
            return "failed"
        stored: dict[str, PutResult] = await put_views(blobs, views, written)
        puts = dict(pending.provenance.get("stored") or {})
        puts.update({name: {"sha256": b.sha256, "size": b.size} for name, b in stored.items()})
        values = {
            "display_key": stored["display"].key,
            "thumbnail_key": stored["thumbnail"].key,
            "display_sha256": stored["display"].sha256,
            "provenance": {**pending.provenance, "stored": puts},
            "quality": quality_json(pending.kind, views),
        }
        if not await _finish(sessions, pending, values):
            await delete_blobs(blobs, written)
            return "lost"
    except BaseException:
        await delete_blobs(blobs, written)
        raise
    finally:
        path.unlink(missing_ok=True)
    return "ready"


async def derive_pending(
    sessions: async_sessionmaker[AsyncSession],
    blobs: BlobStore,
    workdir: Path,
    *,
    older_than: timedelta | None = None,
    case_id: uuid.UUID | None = None,
    run: DeriveRunner = derive_in_thread,
) -> dict[str, int]:
    """Derive every pending attachment (of one case, if given), one after the other; counts
    per outcome (plus "error" for those left ``processing`` by an error, which is logged)."""
    async with sessions() as db:
        ids = await pending_attachment_ids(db, older_than=older_than, case_id=case_id)
    counts = {"ready": 0, "gone": 0, "lost": 0, "failed": 0, "error": 0}
    for attachment_id in ids:
        try:
            counts[await derive_attachment(sessions, blobs, attachment_id, workdir, run)] += 1
        except Exception:
            log.exception("attachment %s: derivation failed; it stays processing",
                          attachment_id)
            counts["error"] += 1
    return counts
