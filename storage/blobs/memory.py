"""Blobs in a dict: for unit tests. Holds whole blobs in memory by design."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from storage.blobs._streams import (
    BytesReader,
    Measure,
    Worker,
    check_chunk_size,
    iter_source,
)
from storage.blobs.base import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_CONTENT_TYPE,
    BlobData,
    BlobNotFound,
    BlobReader,
    BlobStat,
    BlobStoreUnavailable,
    PutResult,
)
from storage.blobs.keys import validate_key, validate_prefix
from storage.blobs.parts import MemoryParts


@dataclass(frozen=True, slots=True)
class StoredBlob:
    data: bytes
    content_type: str
    modified_at: datetime


class MemoryBlobStore:
    """In-process blob store. Set :attr:`available` to ``False`` to make every call raise
    :class:`BlobStoreUnavailable` (for testing how callers handle an outage)."""

    def __init__(self) -> None:
        self._blobs: dict[str, StoredBlob] = {}
        self._worker = Worker()
        self.available = True
        self._parts: dict[str, bytearray] = {}

    def describe(self) -> str:
        return "memory://"

    def __repr__(self) -> str:
        return f"<MemoryBlobStore {len(self._blobs)} blobs>"

    def stored(self, key: str) -> StoredBlob:
        """Test helper: the stored blob with its content type."""
        self._check_available()
        try:
            return self._blobs[validate_key(key)]
        except KeyError:
            raise BlobNotFound(key) from None

    async def put(
        self, key: str, data: BlobData, *, content_type: str = DEFAULT_CONTENT_TYPE
    ) -> PutResult:
        validate_key(key)
        self._check_available()
        measure = Measure()
        parts: list[bytes] = []
        chunks = iter_source(data, self._worker)
        async with contextlib.aclosing(chunks):
            async for chunk in chunks:
                measure.update(chunk)
                parts.append(chunk)
        # Stored only once the whole source was read: a failing source leaves nothing.
        self._blobs[key] = StoredBlob(b"".join(parts), content_type, datetime.now(UTC))
        return PutResult(key=key, size=measure.size, sha256=measure.hexdigest())

    async def open(self, key: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> BlobReader:
        check_chunk_size(chunk_size)
        return BytesReader(self.stored(key).data, chunk_size)

    async def read(self, key: str) -> bytes:
        return self.stored(key).data

    async def stat(self, key: str) -> BlobStat:
        blob = self.stored(key)
        return BlobStat(key=key, size=len(blob.data), modified_at=blob.modified_at)

    async def delete(self, key: str) -> None:
        validate_key(key)
        self._check_available()
        self._blobs.pop(key, None)

    async def list(self, prefix: str = "") -> AsyncIterator[BlobStat]:
        validate_prefix(prefix)
        self._check_available()
        for key in sorted(k for k in self._blobs if k.startswith(prefix)):
            blob = self._blobs.get(key)
            if blob is not None:  # deleted while the caller was busy with earlier keys
                yield BlobStat(key=key, size=len(blob.data), modified_at=blob.modified_at)

    async def ping(self) -> None:
        self._check_available()

    def parts(self) -> MemoryParts:
        """The part API (storage/blobs/parts.py): resumable uploads."""
        return MemoryParts(self, self._parts)

    async def aclose(self) -> None:
        """Nothing to release."""

    def _check_available(self) -> None:
        if not self.available:
            raise BlobStoreUnavailable("the memory blob store was switched off")
