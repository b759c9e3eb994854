"""The blob sweep: remove blobs that no row points at, under every registered prefix.

Orphans are what a crash between "blob stored" and "row committed" leaves, what a failed
request could not delete, and what a committed change stopped pointing at (a removed
attachment, a records package prepared again). Services never delete a blob a committed row
may still point at: they change the row and leave the old blob to this sweep, which only
looks at committed rows (its own session) and only at blobs older than ``min_age`` (default
an hour), so a blob whose row is not committed yet is never swept from under it. New rows
always point at freshly written (young) blobs, never at an old orphan.

The prefixes and columns come from :mod:`storage.models.blob_refs`: each model registers its
key columns. ``audit-checkpoints/`` is never swept (:data:`NEVER_SWEPT`).

Not imported by ``storage.blobs`` itself (it needs the models); import
``storage.blobs.sweep``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.blobs.base import BlobStat, BlobStore
from storage.blobs.file import FileBlobStore
from storage.models.blob_refs import NEVER_SWEPT, swept_prefixes

__all__ = [
    "BATCH",
    "DEFAULT_MIN_AGE",
    "SweepResult",
    "sweep_blob_temporaries",
    "sweep_orphan_blobs",
]

log = logging.getLogger("toothline.sweep")

DEFAULT_MIN_AGE: Final = timedelta(hours=1)
BATCH: Final = 500


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
    prefixes: Mapping[str, Sequence[Any]] | None = None,
) -> SweepResult:
    """Delete the blobs under the registered prefixes that no row points at and that are
    older than ``min_age``. With ``dry_run`` nothing is deleted; the result counts what
    would be. ``prefixes`` (prefix → key columns) replaces the registry, for tests."""
    cutoff = (now or datetime.now(UTC)) - min_age
    result = SweepResult(removed_keys=[] if collect_keys else None)
    for prefix, columns in (swept_prefixes() if prefixes is None else prefixes).items():
        if any(prefix.startswith(kept) or kept.startswith(prefix) for kept in NEVER_SWEPT):
            raise ValueError(f"{prefix!r} is never swept")
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


async def sweep_blob_temporaries(
    blobs: BlobStore, *, min_age: timedelta = DEFAULT_MIN_AGE, now: datetime | None = None,
    dry_run: bool = False,
) -> int:
    """The file store's half-written temporaries older than ``min_age`` (0 on other stores;
    on S3 an interrupted multipart upload is the bucket's lifecycle rule's to abort)."""
    if dry_run or not isinstance(blobs, FileBlobStore):
        return 0
    return await blobs.remove_stale_temporaries((now or datetime.now(UTC)) - min_age)
