"""Blobs written in pieces: the part API behind resumable (tus) uploads.

A resumable upload arrives as several request bodies of any size, possibly cut mid-way. The
part API stores them as they stream in, never whole in memory, and says after each body how
many bytes are durably stored — the offset the client resumes from:

    parts = part_uploads(store)
    state = await parts.begin(new_blob_key("uploads/received"))
    state = await parts.append(state, request_chunks, max_bytes=remaining)  # PartialAppend
    await parts.complete(state)       # the blob ``state.key`` now exists
    await parts.abort(state)          # or: everything written so far is gone

The state is a small JSON-able value (:meth:`PartState.to_json`) the caller keeps in its
database row between requests; the stores keep nothing in memory between calls, so any
portal process can take the next request.

- file: a ``.part`` file beside the blobs, appended, fsynced after each body (also a cut
  one) and renamed into place at the end. A crash may leave bytes past the recorded offset:
  the next append first truncates to it.
- S3: a multipart upload. S3 parts are at least 5 MiB (except the last), but a request body
  may be any size, so the bytes past the last full part are kept as a small *tail* object
  (at most :data:`PART_SIZE`) and read back by the next append. Each state has its own tail
  object (named by its offset) and a part number is fixed by the recorded parts, so a crash
  before the caller recorded the new state leaves the old state intact: its tail is still
  there and the next append uploads the same part numbers again. Memory per append: one part
  buffer (5 MiB) plus one incoming chunk.
- memory: a bytearray, for unit tests.

The part file, the tail object and the multipart upload live under ``uploads/`` keys, which
no row points at; the uploads sweep aborts what expired (``reviewer.intake.uploads``).
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

import anyio

from storage.blobs.base import BlobError, BlobStore
from storage.blobs.keys import new_blob_key, validate_key

if TYPE_CHECKING:
    from minio import Minio

__all__ = [
    "PART_SIZE",
    "PartOverflow",
    "PartState",
    "PartUploads",
    "PartialAppend",
    "part_uploads",
]

PART_SIZE: Final = 5 * 1024 * 1024
"""S3's smallest part (all but the last): the S3 backend's buffer size."""
WRITE_SIZE: Final = 1 << 20
"""The file backend gathers incoming chunks to this size before one write."""
PART_PREFIX: Final = "uploads/parts"


@dataclass(frozen=True)
class PartState:
    """Where a part upload stands; kept by the caller between requests.

    ``offset`` counts the bytes durably stored. ``key`` is the blob the upload becomes.
    ``upload_id``, ``parts``, ``tail_key`` are backend details (S3 multipart id, its
    finished parts as ``[number, etag, size]``, the tail object; the file backend's part
    file key).
    """

    backend: str
    key: str
    offset: int = 0
    upload_id: str = ""
    parts: tuple[tuple[int, str, int], ...] = field(default=())
    tail_key: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"backend": self.backend, "key": self.key, "offset": self.offset,
                "upload_id": self.upload_id, "parts": [list(p) for p in self.parts],
                "tail_key": self.tail_key}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PartState:
        return cls(
            backend=str(data["backend"]), key=str(data["key"]), offset=int(data["offset"]),
            upload_id=str(data.get("upload_id") or ""),
            parts=tuple((int(n), str(e), int(s)) for n, e, s in data.get("parts") or ()),
            tail_key=str(data.get("tail_key") or ""),
        )


class PartOverflow(BlobError):
    """The body held more bytes than ``max_bytes``: the bytes up to it are stored."""


class PartialAppend(BlobError):
    """An append stopped early (the body source raised, e.g. the client went away, or
    :class:`PartOverflow`): ``state`` says what was stored before it stopped."""

    def __init__(self, state: PartState, cause: BaseException) -> None:
        super().__init__(f"append stopped at offset {state.offset}: {type(cause).__name__}")
        self.state = state
        self.cause = cause


class PartUploads(Protocol):
    """The part API of one blob store (see the module docstring)."""

    async def begin(self, key: str) -> PartState: ...

    async def append(
        self, state: PartState, chunks: AsyncIterable[bytes], *, max_bytes: int
    ) -> PartState:
        """Store the chunks after ``state.offset``; the new state. If the source raises an
        ``Exception`` (or more than ``max_bytes`` arrive) what arrived is stored and
        :class:`PartialAppend` carries the new state."""
        ...

    async def complete(self, state: PartState) -> None: ...

    async def abort(self, state: PartState) -> None:
        """Remove everything of the upload; a second abort is not an error."""
        ...


def part_uploads(blobs: BlobStore) -> PartUploads:
    """The part API of a store (each backend offers ``parts()``)."""
    parts: Callable[[], PartUploads] | None = getattr(blobs, "parts", None)
    if parts is None:
        raise BlobError(f"{blobs.describe()} has no part uploads")
    return parts()


async def _bounded(
    chunks: AsyncIterable[bytes], max_bytes: int
) -> AsyncIterable[tuple[bytes, BaseException | None]]:
    """The chunks, cut at ``max_bytes``; a raising source or an overflow ends the stream
    with its error as the last item (so the writer stores what came, then re-raises)."""
    seen = 0
    try:
        async for chunk in chunks:
            if seen + len(chunk) > max_bytes:
                yield chunk[: max_bytes - seen], PartOverflow("more bytes than announced")
                return
            seen += len(chunk)
            yield chunk, None
    except Exception as exc:
        yield b"", exc


# --------------------------------------------------------------------------- memory


class MemoryParts:
    """Part uploads in a dict; ``complete`` puts the bytes into the memory store."""

    def __init__(self, store: Any, pending: dict[str, bytearray]) -> None:
        self._store = store
        self._pending = pending

    async def begin(self, key: str) -> PartState:
        validate_key(key)
        tail = new_blob_key(PART_PREFIX)
        self._pending[tail] = bytearray()
        return PartState("memory", key, tail_key=tail)

    async def append(
        self, state: PartState, chunks: AsyncIterable[bytes], *, max_bytes: int
    ) -> PartState:
        buffer = self._pending.get(state.tail_key)
        if buffer is None:
            raise BlobError("the part upload is gone")
        del buffer[state.offset:]
        async for chunk, error in _bounded(chunks, max_bytes):
            buffer.extend(chunk)
            if error is not None:
                raise PartialAppend(replace(state, offset=len(buffer)), error) from error
        return replace(state, offset=len(buffer))

    async def complete(self, state: PartState) -> None:
        data = self._pending.pop(state.tail_key)
        await self._store.put(state.key, bytes(data[: state.offset]))

    async def abort(self, state: PartState) -> None:
        self._pending.pop(state.tail_key, None)


# --------------------------------------------------------------------------- file


class FileParts:
    """Part uploads as ``ROOT/uploads/parts/<id>.part`` files (see the module docstring)."""

    def __init__(self, root: Path, *, fsync: bool = True, dir_mode: int = 0o700) -> None:
        self._root = root
        self._fsync = fsync
        self._dir_mode = dir_mode

    def _file(self, part_key: str) -> Path:
        return self._root / validate_key(part_key)

    async def begin(self, key: str) -> PartState:
        validate_key(key)
        part_key = new_blob_key(PART_PREFIX) + ".part"
        await anyio.to_thread.run_sync(self._create, self._file(part_key))
        return PartState("file", key, tail_key=part_key)

    def _create(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=self._dir_mode)
        with path.open("xb") as handle:
            self._sync(handle.fileno())

    def _sync(self, fd: int) -> None:
        if self._fsync:
            os.fsync(fd)

    async def append(
        self, state: PartState, chunks: AsyncIterable[bytes], *, max_bytes: int
    ) -> PartState:
        path = self._file(state.tail_key)
        try:
            handle = await anyio.to_thread.run_sync(path.open, "r+b")
        except FileNotFoundError:
            raise BlobError("the part upload is gone") from None
        offset = state.offset
        pending = bytearray()
        try:
            await anyio.to_thread.run_sync(_seek_truncate, handle, offset)
            async for chunk, error in _bounded(chunks, max_bytes):
                pending += chunk
                if len(pending) >= WRITE_SIZE or error is not None:
                    await anyio.to_thread.run_sync(handle.write, bytes(pending))
                    offset += len(pending)
                    pending.clear()
                if error is not None:
                    await anyio.to_thread.run_sync(self._flush, handle)
                    raise PartialAppend(replace(state, offset=offset), error) from error
            if pending:
                await anyio.to_thread.run_sync(handle.write, bytes(pending))
                offset += len(pending)
            await anyio.to_thread.run_sync(self._flush, handle)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(handle.close)
        return replace(state, offset=offset)

    def _flush(self, handle: Any) -> None:
        handle.flush()
        self._sync(handle.fileno())

    async def complete(self, state: PartState) -> None:
        await anyio.to_thread.run_sync(self._complete, state)

    def _complete(self, state: PartState) -> None:
        source = self._file(state.tail_key)
        target = self._root / validate_key(state.key)
        with source.open("r+b") as handle:
            handle.truncate(state.offset)
            self._flush(handle)
        target.parent.mkdir(parents=True, exist_ok=True, mode=self._dir_mode)
        os.replace(source, target)
        if self._fsync:
            fd = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    async def abort(self, state: PartState) -> None:
        await anyio.to_thread.run_sync(
            lambda: self._file(state.tail_key).unlink(missing_ok=True)
        )


def _seek_truncate(handle: Any, offset: int) -> None:
    handle.truncate(offset)  # bytes a crash left past the recorded offset
    handle.seek(offset)


# --------------------------------------------------------------------------- S3


class S3Parts:
    """Part uploads as an S3 multipart upload plus a small tail object (module docstring).

    ``errors`` and ``ready`` are the store's error translation and bucket check; the minio
    multipart calls are the client's own (underscored) methods, the only way minio offers
    to upload one part at a time.
    """

    def __init__(self, client: Minio, bucket: str,
                 errors: Callable[..., contextlib.AbstractContextManager[None]],
                 ready: Callable[[], None]) -> None:
        self._client = client
        self._bucket = bucket
        self._errors = errors
        self._ready = ready

    async def begin(self, key: str) -> PartState:
        validate_key(key)
        return await anyio.to_thread.run_sync(self._begin, key)

    def _begin(self, key: str) -> PartState:
        with self._errors(key, writing=True):
            self._ready()
            upload_id = self._client._create_multipart_upload(
                self._bucket, key, {"Content-Type": "application/octet-stream"}
            )
        return PartState("s3", key, upload_id=upload_id, tail_key=new_blob_key(PART_PREFIX))

    def _tail_size(self, state: PartState) -> int:
        return state.offset - sum(size for _, _, size in state.parts)

    @staticmethod
    def _tail_object(state: PartState) -> str:
        return f"{state.tail_key}/t-{state.offset}"

    def _read_tail(self, state: PartState) -> bytes:
        if self._tail_size(state) == 0:
            return b""
        with self._errors(self._tail_object(state)):
            response = self._client.get_object(self._bucket, self._tail_object(state))
            try:
                data = response.read()
            finally:
                response.close()
                response.release_conn()
        return data[: self._tail_size(state)]

    def _put_tail(self, old: PartState, state: PartState, data: bytes) -> None:
        """Store the new state's tail; drop tails of states older than ``old`` (the caller
        may still hold ``old`` if it never records ``state``)."""
        if data:
            with self._errors(self._tail_object(state), writing=True):
                self._client.put_object(
                    self._bucket, self._tail_object(state), io.BytesIO(data), len(data)
                )
        self._remove_tails(keep={self._tail_object(old), self._tail_object(state)}, state=state)

    def _remove_tails(self, *, state: PartState, keep: frozenset[str] | set[str] = frozenset(),
                      ) -> None:
        with contextlib.suppress(BlobError), self._errors(state.tail_key, writing=True):
            for obj in self._client.list_objects(
                self._bucket, prefix=state.tail_key + "/", recursive=True
            ):
                if obj.object_name and obj.object_name not in keep:
                    self._client.remove_object(self._bucket, obj.object_name)

    def _upload_part(self, state: PartState, data: bytes) -> PartState:
        number = len(state.parts) + 1
        with self._errors(state.key, writing=True):
            etag = self._client._upload_part(
                self._bucket, state.key, data, None, state.upload_id, number
            )
        return replace(state, parts=(*state.parts, (number, etag, len(data))))

    async def append(
        self, state: PartState, chunks: AsyncIterable[bytes], *, max_bytes: int
    ) -> PartState:
        old = state
        buffer = bytearray(await anyio.to_thread.run_sync(self._read_tail, state))
        error: BaseException | None = None
        async for chunk, error in _bounded(chunks, max_bytes):
            buffer += chunk
            while len(buffer) >= PART_SIZE:
                part = bytes(buffer[:PART_SIZE])
                state = await anyio.to_thread.run_sync(self._upload_part, state, part)
                del buffer[:PART_SIZE]
                state = replace(state, offset=sum(size for _, _, size in state.parts))
            if error is not None:
                break
        state = replace(state, offset=sum(s for _, _, s in state.parts) + len(buffer))
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(self._put_tail, old, state, bytes(buffer))
        if error is not None:
            raise PartialAppend(state, error) from error
        return state

    async def complete(self, state: PartState) -> None:
        await anyio.to_thread.run_sync(self._complete, state)

    def _complete(self, state: PartState) -> None:
        from minio.datatypes import Part

        tail = self._read_tail(state)
        if tail or not state.parts:
            state = self._upload_part(state, tail)
        with self._errors(state.key, writing=True):
            self._client._complete_multipart_upload(
                self._bucket, state.key, state.upload_id,
                [Part(number, etag) for number, etag, _ in state.parts],
            )
        self._remove_tails(state=state)

    async def abort(self, state: PartState) -> None:
        await anyio.to_thread.run_sync(self._abort, state)

    def _abort(self, state: PartState) -> None:
        self._remove_tails(state=state)
        with contextlib.suppress(BlobError), self._errors(state.key, writing=True):
            self._client._abort_multipart_upload(
                self._bucket, state.key, state.upload_id
            )
