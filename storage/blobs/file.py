"""Blobs as files under one root folder (the embedded default: nothing to install).

Key ``a/b/c`` is the file ``ROOT/a/b/c``. Writes go to a temporary file in the target's
folder, are fsynced and then renamed over the target, so a reader sees the old blob or the
new one, never a torn one, and a crash leaves at worst a temporary file (named ``~put-…``,
which no valid key can be, so :meth:`FileBlobStore.list` never reports it). Empty folders
left by deletes are kept: removing them would race with a concurrent put into them.
"""

from __future__ import annotations

import contextlib
import os
import stat as stat_mod
import tempfile
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote

from storage.blobs._streams import (
    Measure,
    ThreadedReader,
    Worker,
    check_chunk_size,
    coalesce,
    iter_source,
    read_all,
)
from storage.blobs.base import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_CONTENT_TYPE,
    BlobData,
    BlobError,
    BlobNotFound,
    BlobReader,
    BlobStat,
    BlobStoreUnavailable,
    InvalidBlobKey,
    PutResult,
)
from storage.blobs.keys import is_valid_key, validate_key, validate_prefix
from storage.blobs.parts import FileParts
from storage.private import DIR_MODE, private_dir

TEMP_PREFIX = "~put-"
WRITE_SIZE = 1 << 20
"""Chunks are joined up to this size before one write (one thread hop per write)."""
LIST_BATCH = 256


class FileBlobStore:
    """Blob store in a local folder. ``content_type`` is not kept (the database keeps it)."""

    def __init__(self, root: Path | str, *, fsync: bool = True) -> None:
        # Resolved once, so the containment check below compares against a fixed real path.
        self._root = Path(root).expanduser().resolve()
        self._fsync = fsync
        self._worker = Worker()

    @classmethod
    def from_url(cls, url: str) -> FileBlobStore:
        """``file://./relative/path`` or ``file:///absolute/path`` (percent-escapes decoded)."""
        scheme, sep, rest = url.partition("://")
        if scheme.lower() != "file" or not sep:
            raise ValueError("a file blob store URL starts with file://")
        path = unquote(rest)
        if not path:
            raise ValueError("a file blob store URL needs a path, e.g. file://./var/blobs")
        return cls(Path(path))

    @property
    def root(self) -> Path:
        return self._root

    def describe(self) -> str:
        return f"file://{self._root}"

    def __repr__(self) -> str:
        return f"<FileBlobStore {self.describe()}>"

    # -- async API -------------------------------------------------------------------------

    async def put(
        self, key: str, data: BlobData, *, content_type: str = DEFAULT_CONTENT_TYPE
    ) -> PutResult:
        validate_key(key)
        measure = Measure()
        target, temp, handle = await self._worker.run(self._begin_write, key)
        try:
            chunks = coalesce(iter_source(data, self._worker), WRITE_SIZE)
            async with contextlib.aclosing(chunks):
                async for chunk in chunks:
                    await self._worker.run(_write, handle, chunk, measure)
            await self._worker.run(self._commit, handle, temp, target)
        except BaseException:
            await self._worker.run(_discard, handle, temp)
            raise
        return PutResult(key=key, size=measure.size, sha256=measure.hexdigest())

    async def adopt(self, key: str, path: Path) -> PutResult | None:
        """Make the finished file ``path`` the blob ``key`` by moving it in: hashed, fsynced
        and renamed into place, so its bytes are never copied. Only for a file on the store's
        file system; otherwise ``None``, and the file is left as it was."""
        validate_key(key)
        return await self._worker.run(self._adopt, key, Path(path))

    async def open(self, key: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> BlobReader:
        check_chunk_size(chunk_size)
        validate_key(key)
        handle = await self._worker.run(self._open_for_read, key)
        return ThreadedReader(handle.read, handle.close, chunk_size, self._worker)

    async def read(self, key: str) -> bytes:
        return await read_all(await self.open(key))

    async def stat(self, key: str) -> BlobStat:
        validate_key(key)
        return await self._worker.run(self._stat, key)

    async def delete(self, key: str) -> None:
        validate_key(key)
        await self._worker.run(self._delete, key)

    async def list(self, prefix: str = "") -> AsyncIterator[BlobStat]:
        validate_prefix(prefix)
        entries = self._walk(prefix)
        while batch := await self._worker.run(_take, entries, LIST_BATCH):
            for entry in batch:
                yield entry

    async def ping(self) -> None:
        await self._worker.run(self._ping)

    async def remove_stale_temporaries(self, older_than: datetime) -> int:
        """Delete the ``~put-…`` files a crashed process left mid-write, if last written
        before ``older_than`` (a write in progress keeps its file's mtime fresh). Not part of
        the :class:`BlobStore` protocol: only this backend writes temporaries. Returns how
        many were removed."""
        return await self._worker.run(self._remove_stale_temporaries, older_than.timestamp())

    def parts(self) -> FileParts:
        """The part API (storage/blobs/parts.py): ``.part`` files for resumable uploads."""
        return FileParts(self._root, fsync=self._fsync, dir_mode=DIR_MODE)

    async def aclose(self) -> None:
        """Nothing to release: files are opened per call."""

    # -- blocking helpers (worker threads) --------------------------------------------------

    def _path(self, key: str) -> Path:
        """The file for ``key``; refuses anything that resolves outside the root.

        Key validation already rules out ``..`` and absolute keys; this second check also
        catches symbolic links inside the root that point elsewhere.
        """
        validate_key(key)
        path = self._root.joinpath(*key.split("/")).resolve()
        if path == self._root or not path.is_relative_to(self._root):
            raise InvalidBlobKey("the blob key resolves outside the store's root folder")
        return path

    def _begin_write(self, key: str) -> tuple[Path, Path, BinaryIO]:
        target = self._path(key)
        try:
            self._make_dirs(target.parent)
            fd, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".tmp", dir=target.parent)
        except (FileExistsError, NotADirectoryError) as exc:
            raise BlobError(f"cannot store {key!r}: a part of it is an existing blob") from exc
        except OSError as exc:
            raise BlobError(f"cannot store {key!r}: {exc.strerror}") from exc
        return target, Path(temp), os.fdopen(fd, "wb")

    def _make_dirs(self, folder: Path) -> None:
        if folder.is_dir():
            return
        missing: list[Path] = []
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        for new in reversed(missing):
            with contextlib.suppress(FileExistsError):  # a concurrent put made it
                new.mkdir(mode=DIR_MODE)  # the root among them: patient files, owner only
            if self._fsync:
                _fsync_dir(new.parent)

    def _commit(self, handle: BinaryIO, temp: Path, target: Path) -> None:
        try:
            handle.flush()
            if self._fsync:
                os.fsync(handle.fileno())
            handle.close()
            os.replace(temp, target)
            if self._fsync:
                _fsync_dir(target.parent)
        except IsADirectoryError as exc:
            raise BlobError(f"cannot store {target.name!r}: other blobs live under it") from exc
        except OSError as exc:
            raise BlobError(f"cannot store a blob: {exc.strerror}") from exc

    def _adopt(self, key: str, path: Path) -> PutResult | None:
        target = self._path(key)
        try:
            self._make_dirs(target.parent)
            if path.stat().st_dev != target.parent.stat().st_dev:
                return None
            measure = Measure()
            with path.open("rb") as source:
                while chunk := source.read(WRITE_SIZE):
                    measure.update(chunk)
                if self._fsync:
                    os.fsync(source.fileno())
            path.chmod(0o600)  # as private as the temporaries put() writes
            os.replace(path, target)
            if self._fsync:
                _fsync_dir(target.parent)
        except (FileExistsError, NotADirectoryError) as exc:
            raise BlobError(f"cannot store {key!r}: a part of it is an existing blob") from exc
        except IsADirectoryError as exc:
            raise BlobError(f"cannot store {key!r}: other blobs live under it") from exc
        except OSError as exc:
            raise BlobError(f"cannot store {key!r}: {exc.strerror}") from exc
        return PutResult(key=key, size=measure.size, sha256=measure.hexdigest())

    def _open_for_read(self, key: str) -> BinaryIO:
        path = self._path(key)
        try:
            return path.open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise BlobNotFound(key) from exc
        except OSError as exc:
            raise BlobError(f"cannot read {key!r}: {exc.strerror}") from exc

    def _stat(self, key: str) -> BlobStat:
        try:
            st = self._path(key).stat()
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise BlobNotFound(key) from exc
        except OSError as exc:
            raise BlobError(f"cannot stat {key!r}: {exc.strerror}") from exc
        if not stat_mod.S_ISREG(st.st_mode):
            raise BlobNotFound(key)
        return BlobStat(key=key, size=st.st_size, modified_at=_utc(st.st_mtime))

    def _delete(self, key: str) -> None:
        try:
            self._path(key).unlink()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            pass  # already gone, or a "folder" of other keys: nothing stored under this key
        except OSError as exc:
            raise BlobError(f"cannot delete {key!r}: {exc.strerror}") from exc

    def _walk(self, prefix: str) -> Iterator[BlobStat]:
        """Blobs under ``prefix`` in key order, walking only the folders that can match."""
        folder_key = prefix.rpartition("/")[0]
        folder = self._root.joinpath(*folder_key.split("/")) if folder_key else self._root
        yield from self._walk_folder(folder, folder_key, prefix)

    def _walk_folder(self, folder: Path, folder_key: str, prefix: str) -> Iterator[BlobStat]:
        try:
            with os.scandir(folder) as scan:
                entries = list(scan)
        except (FileNotFoundError, NotADirectoryError):
            return

        def order(entry: os.DirEntry[str]) -> str:
            # A folder "x" holds keys "x/...": sorting it as "x/" gives global key order.
            return entry.name + "/" if entry.is_dir(follow_symlinks=False) else entry.name

        for entry in sorted(entries, key=order):
            key = f"{folder_key}/{entry.name}" if folder_key else entry.name
            if entry.is_dir(follow_symlinks=False):
                if (key + "/").startswith(prefix) or prefix.startswith(key + "/"):
                    yield from self._walk_folder(Path(entry.path), key, prefix)
            elif (
                entry.is_file(follow_symlinks=False)
                and key.startswith(prefix)
                and is_valid_key(key)  # skips temporary files and strangers
            ):
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # deleted meanwhile
                yield BlobStat(key=key, size=st.st_size, modified_at=_utc(st.st_mtime))

    def _remove_stale_temporaries(self, cutoff: float) -> int:
        removed = 0
        if not self._root.is_dir():
            return 0
        for folder, _dirs, files in os.walk(self._root):
            for name in files:
                if not name.startswith(TEMP_PREFIX):
                    continue
                path = Path(folder) / name
                try:
                    if path.lstat().st_mtime < cutoff:
                        path.unlink()
                        removed += 1
                except FileNotFoundError:
                    continue  # committed or discarded meanwhile
        return removed

    def _ping(self) -> None:
        try:
            private_dir(self._root)
        except OSError as exc:
            raise BlobStoreUnavailable(f"cannot create {self._root}: {exc.strerror}") from exc
        if not os.access(self._root, os.W_OK | os.X_OK):
            raise BlobStoreUnavailable(f"{self._root} is not writable")


def _write(handle: BinaryIO, chunk: bytes, measure: Measure) -> None:
    measure.update(chunk)
    try:
        handle.write(chunk)
    except OSError as exc:
        raise BlobError(f"cannot write a blob: {exc.strerror}") from exc


def _discard(handle: BinaryIO, temp: Path) -> None:
    with contextlib.suppress(OSError):
        handle.close()
    with contextlib.suppress(OSError):
        temp.unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    """Make a rename or a new entry in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _take(entries: Iterator[BlobStat], count: int) -> list[BlobStat]:
    return list(islice(entries, count))


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)
