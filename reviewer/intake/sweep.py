"""The sweep: remove blobs that no row points at (what a crash between "blob stored" and
"row committed" leaves behind, and the blobs of removed attachments).

Only blobs older than ``min_age`` (default an hour) are touched, so an upload whose row is
not yet committed is never swept from under it. Each prefix is swept against the columns
that may point into it; an area that stores blobs elsewhere adds its prefix to ``SWEPT``.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.blobs import BlobStat, BlobStore, FileBlobStore
from storage.models import Attachment

log = logging.getLogger("toothline.sweep")

DEFAULT_MIN_AGE: Final = timedelta(hours=1)
BATCH: Final = 500

SWEPT: Final[dict[str, Sequence[Any]]] = {
    "attachments/": (Attachment.original_key, Attachment.display_key, Attachment.thumbnail_key),
}
"""Blob key prefix -> the columns whose values are keys under it."""


@dataclass
class SweepResult:
    checked: int = 0
    kept: int = 0
    too_recent: int = 0
    removed: int = 0
    removed_keys: list[str] | None = None


async def _referenced(db: AsyncSession, columns: Sequence[Any], keys: list[str]) -> set[str]:
    found: set[str] = set()
    for column in columns:
        rows = await db.scalars(select(column).where(column.in_(keys)))
        found.update(k for k in rows if k)
    return found


async def _flush_batch(
    db: AsyncSession, blobs: BlobStore, columns: Sequence[Any], batch: list[BlobStat],
    result: SweepResult, dry_run: bool,
) -> None:
    keys = [stat.key for stat in batch]
    referenced = await _referenced(db, columns, keys)
    for key in keys:
        if key in referenced:
            result.kept += 1
            continue
        if not dry_run:
            await blobs.delete(key)
        result.removed += 1
        if result.removed_keys is not None:
            result.removed_keys.append(key)
    batch.clear()


async def sweep_orphan_blobs(
    db: AsyncSession,
    blobs: BlobStore,
    *,
    min_age: timedelta = DEFAULT_MIN_AGE,
    now: datetime | None = None,
    dry_run: bool = False,
    collect_keys: bool = False,
) -> SweepResult:
    """Delete the blobs under ``SWEPT`` prefixes that no row points at and that are older
    than ``min_age``. With ``dry_run`` nothing is deleted; the result counts what would be."""
    cutoff = (now or datetime.now(UTC)) - min_age
    result = SweepResult(removed_keys=[] if collect_keys else None)
    for prefix, columns in SWEPT.items():
        batch: list[BlobStat] = []
        async for stat in blobs.list(prefix):
            result.checked += 1
            if stat.modified_at > cutoff:
                result.too_recent += 1
                continue
            batch.append(stat)
            if len(batch) >= BATCH:
                await _flush_batch(db, blobs, columns, batch, result, dry_run)
        if batch:
            await _flush_batch(db, blobs, columns, batch, result, dry_run)
    log.info("blob sweep: checked %d, removed %d", result.checked, result.removed)
    return result



def _last_written(folder: Path) -> float:
    """The newest mtime of a folder and everything in it (a live upload keeps writing)."""
    newest = folder.lstat().st_mtime
    for path in folder.rglob("*"):
        try:
            newest = max(newest, path.lstat().st_mtime)
        except FileNotFoundError:
            continue
    return newest


def sweep_work_folders(
    root: Path, prefix: str, *, min_age: timedelta = DEFAULT_MIN_AGE,
    now: datetime | None = None, dry_run: bool = False,
) -> int:
    """Remove the work folders ``root/<prefix>*`` that nothing wrote to for ``min_age``:
    what a process killed mid-upload leaves (a finished or refused upload removes its own).
    Returns how many were (or, with ``dry_run``, would be) removed."""
    cutoff = ((now or datetime.now(UTC)) - min_age).timestamp()
    removed = 0
    if not root.is_dir():
        return 0
    for folder in root.glob(f"{prefix}*"):
        try:
            if not folder.is_dir() or folder.is_symlink() or _last_written(folder) >= cutoff:
                continue
        except FileNotFoundError:
            continue
        if not dry_run:
            shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    if removed:
        log.info("work folder sweep: removed %d under %s", removed, root)
    return removed


async def sweep_blob_temporaries(
    blobs: BlobStore, *, min_age: timedelta = DEFAULT_MIN_AGE, now: datetime | None = None,
    dry_run: bool = False,
) -> int:
    """The file store's half-written temporaries older than ``min_age`` (0 on other stores;
    on S3 an interrupted multipart upload is the bucket's lifecycle rule's to abort)."""
    if dry_run or not isinstance(blobs, FileBlobStore):
        return 0
    return await blobs.remove_stale_temporaries((now or datetime.now(UTC)) - min_age)
