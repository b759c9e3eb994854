"""The rules behind the fault tests, without servers: which errors mean "a service is away"
(503) rather than a bug (500), and what the sweep may remove after a crash."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from asyncpg.exceptions import ConnectionDoesNotExistError
from sqlalchemy import exc as sa_exc

from portal.errors import unavailable_code
from reviewer.intake.sweep import sweep_work_folders
from storage.blobs import BlobStoreUnavailable, FileBlobStore
from storage.blobs.sweep import sweep_blob_temporaries


def _caused_by(exc: BaseException, cause: BaseException) -> BaseException:
    exc.__cause__ = cause
    return exc


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (BlobStoreUnavailable("s3 away"), "storage_unavailable"),
        (_caused_by(RuntimeError("wrapped"), BlobStoreUnavailable("x")), "storage_unavailable"),
        (sa_exc.OperationalError("SELECT 1", {}, OSError("refused")), "database_unavailable"),
        (sa_exc.DBAPIError("SELECT 1", {}, Exception("gone"), connection_invalidated=True),
         "database_unavailable"),
        (sa_exc.DBAPIError("SELECT 1", {}, ConnectionDoesNotExistError("closed")),
         "database_unavailable"),
        (ConnectionRefusedError(111, "Connect call failed"), "database_unavailable"),
        (sa_exc.TimeoutError("QueuePool limit reached"), "database_unavailable"),
        (sa_exc.IntegrityError("INSERT", {}, Exception("duplicate key")), None),
        (sa_exc.ProgrammingError("SELECT", {}, Exception("syntax")), None),
        (ValueError("a bug"), None),
        (FileNotFoundError("a bug too"), None),
    ],
)
def test_which_errors_mean_a_service_is_away(error: BaseException, code: str | None) -> None:
    assert unavailable_code(error) == code


def _age(path: Path, seconds: float) -> None:
    old = time.time() - seconds
    for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
        os.utime(item, (old, old))


def test_only_abandoned_upload_folders_are_swept(tmp_path: Path) -> None:
    stale = tmp_path / "upload-stale"
    live = tmp_path / "upload-live"  # old folder, but its file is still being written
    other = tmp_path / "not-an-upload"
    for folder in (stale, live, other):
        folder.mkdir()
        (folder / "part").write_bytes(b"x")
    _age(stale, 7200)
    _age(other, 7200)
    _age(live, 7200)
    os.utime(live / "part")  # written just now
    assert sweep_work_folders(tmp_path, "upload-", min_age=timedelta(hours=1),
                              dry_run=True) == 1
    assert stale.exists()
    assert sweep_work_folders(tmp_path, "upload-", min_age=timedelta(hours=1)) == 1
    assert not stale.exists() and live.exists() and other.exists()
    assert sweep_work_folders(tmp_path / "missing", "upload-") == 0


async def test_half_written_blob_files_are_swept_when_old(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    key = "attachments/original/0123456789abcdef0123456789abcdef"
    await store.put(key, b"kept")
    folder = tmp_path / "attachments" / "original"
    old_temp, new_temp = folder / "~put-old.tmp", folder / "~put-new.tmp"
    old_temp.write_bytes(b"torn")
    new_temp.write_bytes(b"in progress")
    _age(old_temp, 7200)
    assert await sweep_blob_temporaries(store, min_age=timedelta(hours=1)) == 1
    assert not old_temp.exists() and new_temp.exists()
    assert await store.read(key) == b"kept"
