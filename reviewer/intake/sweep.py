"""Intake's part of the sweep: the upload work folders a killed process left behind.

Orphan blobs (of attachments, claim packages, records packages and documents) are swept by
:mod:`storage.blobs.sweep` against the key columns each model registers
(:mod:`storage.models.blob_refs`).
"""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from storage.blobs.sweep import DEFAULT_MIN_AGE

log = logging.getLogger("toothline.sweep")


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
