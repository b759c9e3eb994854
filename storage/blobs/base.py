"""The blob store contract: value types, errors and the :class:`BlobStore` protocol.

Kept apart from ``storage/blobs/__init__.py`` so that the backends and the key rules can
import these names without importing the package facade (which imports the backends).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol, TypeAlias, runtime_checkable

DEFAULT_CHUNK_SIZE = 1 << 20
"""Chunk size of :meth:`BlobStore.open` when the caller does not choose one (1 MiB)."""

DEFAULT_CONTENT_TYPE = "application/octet-stream"

BlobData: TypeAlias = bytes | bytearray | memoryview | BinaryIO | AsyncIterable[bytes]
"""What :meth:`BlobStore.put` accepts: bytes, a binary file object opened for reading (read
in a worker thread; the caller keeps ownership and closes it), or an async iterable of byte
chunks of unknown total length."""


class BlobError(Exception):
    """Base class of every error the blob store raises on purpose."""


class BlobNotFound(BlobError):
    """No blob is stored under the key. The same error on every backend."""

    def __init__(self, key: str) -> None:
        # Keys are random ids (never names or other PHI), so they may appear in messages.
        super().__init__(f"no blob stored under {key!r}")
        self.key = key


class InvalidBlobKey(BlobError, ValueError):
    """The key (or list prefix) breaks the key rules of :mod:`storage.blobs.keys`.

    The message never repeats the rejected key: a wrong key may well be a file name that
    carries a patient's name.
    """


class BlobStoreUnavailable(BlobError):
    """The backend cannot be reached or cannot serve requests right now."""


@dataclass(frozen=True, slots=True)
class BlobStat:
    """What is known about one stored blob. ``modified_at`` is timezone-aware UTC."""

    key: str
    size: int
    modified_at: datetime


@dataclass(frozen=True, slots=True)
class PutResult:
    """Outcome of a put: size and SHA-256 (hex) of exactly the bytes that were stored,
    computed in the same pass that stored them."""

    key: str
    size: int
    sha256: str


@runtime_checkable
class BlobReader(Protocol):
    """An async iterator of byte chunks that can be closed early.

    Iterating to the end closes it; call :meth:`aclose` when stopping before the end (for
    example when the HTTP client went away) to release the file or connection at once.
    Not safe for concurrent use by several tasks.
    """

    def __aiter__(self) -> BlobReader: ...

    async def __anext__(self) -> bytes: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class BlobStore(Protocol):
    """A flat key -> bytes store. Every method validates its key first.

    Blocking work (file system, network) never runs on the event loop.
    """

    async def put(
        self, key: str, data: BlobData, *, content_type: str = DEFAULT_CONTENT_TYPE
    ) -> PutResult:
        """Store ``data`` under ``key``, replacing any blob there, all or nothing.

        If the data source raises, its exception propagates unchanged and nothing new is
        left behind (an existing blob under the key is kept).
        """
        ...

    async def open(self, key: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> BlobReader:
        """Open a blob for streaming. Raises :class:`BlobNotFound` here, when awaited, so a
        caller can answer 404 before it starts sending a response."""
        ...

    async def read(self, key: str) -> bytes:
        """The whole blob in memory: for small blobs only."""
        ...

    async def stat(self, key: str) -> BlobStat: ...

    async def delete(self, key: str) -> None:
        """Remove a blob; a missing key is not an error."""
        ...

    def list(self, prefix: str = "") -> AsyncIterator[BlobStat]:
        """Blobs whose key starts with ``prefix`` (plain string prefix), in key order."""
        ...

    async def ping(self) -> None:
        """Raise :class:`BlobStoreUnavailable` unless the store can serve requests."""
        ...

    async def aclose(self) -> None:
        """Release threads and connections; the store is not used afterwards."""
        ...

    def describe(self) -> str:
        """Where the blobs are, for logs: never includes credentials."""
        ...
