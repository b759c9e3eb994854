"""Store a finished local file as a blob, moving it in where the backend can."""

from __future__ import annotations

from pathlib import Path

import anyio

from storage.blobs.base import DEFAULT_CONTENT_TYPE, BlobStore, PutResult
from storage.blobs.file import FileBlobStore


async def store_file(
    store: BlobStore, key: str, path: Path, *, content_type: str = DEFAULT_CONTENT_TYPE
) -> PutResult:
    """Store the file at ``path`` under ``key``, as :meth:`BlobStore.put` would.

    A file store on the same file system takes the file itself (renamed into place, no copy
    of its bytes); any other store gets a copy. Either way the caller must not use ``path``
    afterwards, and removes it if it is still there.
    """
    if isinstance(store, FileBlobStore):
        adopted = await store.adopt(key, path)
        if adopted is not None:
            return adopted
    source = await anyio.to_thread.run_sync(path.open, "rb")
    try:
        return await store.put(key, source, content_type=content_type)
    finally:
        await anyio.to_thread.run_sync(source.close)
