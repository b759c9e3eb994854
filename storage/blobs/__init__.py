"""The blob store: where originals, derived images and generated documents are kept.

Pick a backend with a URL (``TOOTHLINE_*`` settings hold it)::

    store = open_blob_store("file://./var/blobs")          # embedded default
    store = open_blob_store("s3://KEY:SECRET@minio:9000/toothline?secure=0&region=us-east-1")
    store = open_blob_store("memory://")                   # unit tests

    result = await store.put(new_blob_key("attachments/original"), request_stream)
    reader = await store.open(result.key)    # BlobNotFound raised here, before any header
    async for chunk in reader: ...

Keys are random ids (:func:`new_blob_key`), never names or other PHI.
"""

from __future__ import annotations

from storage.blobs.base import (
    DEFAULT_CHUNK_SIZE,
    BlobData,
    BlobError,
    BlobNotFound,
    BlobReader,
    BlobStat,
    BlobStore,
    BlobStoreUnavailable,
    InvalidBlobKey,
    PutResult,
)
from storage.blobs.file import FileBlobStore
from storage.blobs.keys import MAX_KEY_LENGTH, new_blob_key, validate_key, validate_prefix
from storage.blobs.memory import MemoryBlobStore
from storage.blobs.s3 import S3BlobStore
from storage.blobs.store_file import store_file

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "MAX_KEY_LENGTH",
    "BlobData",
    "BlobError",
    "BlobNotFound",
    "BlobReader",
    "BlobStat",
    "BlobStore",
    "BlobStoreUnavailable",
    "FileBlobStore",
    "InvalidBlobKey",
    "MemoryBlobStore",
    "PutResult",
    "S3BlobStore",
    "new_blob_key",
    "open_blob_store",
    "store_file",
    "validate_key",
    "validate_prefix",
]


def open_blob_store(url: str) -> BlobStore:
    """The backend named by the URL's scheme: ``file://``, ``s3://`` or ``memory://``.

    No I/O happens here: folders and buckets are created on first use. Raises
    ``ValueError`` for a malformed URL (the message never repeats the URL, which may hold a
    secret key).
    """
    scheme, sep, _ = url.partition("://")
    scheme = scheme.lower()
    if sep and scheme == "file":
        return FileBlobStore.from_url(url)
    if sep and scheme == "s3":
        return S3BlobStore.from_url(url)
    if sep and scheme == "memory":
        return MemoryBlobStore()
    raise ValueError("a blob store URL starts with file://, s3:// or memory://")
