"""Blobs in an S3 bucket (MinIO in production, moto in tests) through the ``minio`` client.

The minio client is blocking, so every call runs in a worker thread. Uploads hold a thread
for their whole duration (the client pulls data from a file-like object), so they get their
own bounded pool (``max_uploads``): slow uploads cannot starve reads. Uploads are always of
unknown length (``length=-1``) in 5 MiB parts sent one at a time, so one upload holds about
three parts (~15 MiB: the part just sent, the next one being gathered, and the copy minio
makes when it joins and trims it) whatever the blob's size; parallel part uploads would
multiply that.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from itertools import islice
from typing import BinaryIO, cast
from urllib.parse import parse_qsl, unquote, urlsplit

import certifi
import urllib3
from minio import Minio
from minio.datatypes import Object
from minio.error import InvalidResponseError, S3Error, ServerError
from minio.helpers import check_bucket_name
from urllib3.response import BaseHTTPResponse

from storage.blobs._streams import (
    ChunkPipe,
    Measure,
    ThreadedReader,
    Worker,
    check_chunk_size,
    feed_thread,
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
    PutResult,
)
from storage.blobs.keys import is_valid_key, validate_key, validate_prefix
from storage.blobs.parts import S3Parts

PART_SIZE = 5 * 1024 * 1024
"""Multipart part size: the S3 minimum, so an upload holds as little as possible."""
PIPE_BUFFER = 256 * 1024
"""Bytes queued between the event loop and the uploading thread."""
LIST_BATCH = 500
_NOT_FOUND = frozenset({"NoSuchKey", "NoSuchBucket", "NoSuchObject"})
_URL_PARAMS = frozenset(
    {"secure", "region", "connect_timeout", "read_timeout", "retries", "max_uploads", "max_threads"}
)


class S3BlobStore:
    """Blob store in one S3 bucket, created on first use if missing.

    ``retries`` and the timeouts configure the urllib3 pool under the minio client; a
    connection failure after the retries raises :class:`BlobStoreUnavailable`.
    """

    def __init__(
        self,
        endpoint: str,
        bucket: str,
        *,
        access_key: str | None = None,
        secret_key: str | None = None,
        secure: bool = True,
        region: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        retries: int = 3,
        max_uploads: int = 8,
        max_threads: int = 16,
    ) -> None:
        check_bucket_name(bucket, strict=True)  # ValueError
        if max_uploads < 1 or max_threads < 1 or retries < 0:
            raise ValueError("max_uploads and max_threads must be >= 1, retries >= 0")
        self._endpoint = endpoint
        self._bucket = bucket
        self._secure = secure
        self._region = region
        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
            maxsize=max_uploads + max_threads,
            cert_reqs="CERT_REQUIRED",
            ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
            retries=urllib3.Retry(
                total=retries,
                backoff_factor=0.2,
                status_forcelist=(500, 502, 503, 504),
            ),
        )
        self._client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=self._http,
        )
        self._uploads = ThreadPoolExecutor(max_uploads, thread_name_prefix="blobs-s3-upload")
        self._io = ThreadPoolExecutor(max_threads, thread_name_prefix="blobs-s3")
        self._worker = Worker(self._io)
        self._bucket_lock = threading.Lock()
        self._bucket_ready = False
        self._closed = False

    @classmethod
    def from_url(cls, url: str) -> S3BlobStore:
        """``s3://ACCESS:SECRET@HOST[:PORT]/BUCKET?secure=0&region=us-east-1``.

        Percent-encode the access and secret key. Optional parameters: ``secure`` (default
        1), ``region``, ``connect_timeout`` / ``read_timeout`` (seconds), ``retries``,
        ``max_uploads`` (concurrent uploads), ``max_threads`` (other concurrent calls).
        Error messages never repeat the URL: it holds the secret key.
        """
        parts = urlsplit(url)
        if parts.scheme.lower() != "s3":
            raise ValueError("an S3 blob store URL starts with s3://")
        try:
            host, port = parts.hostname, parts.port
        except ValueError:
            raise ValueError("the S3 blob store URL has an invalid port") from None
        if not host:
            raise ValueError("the S3 blob store URL needs a host")
        if ":" in host:
            host = f"[{host}]"  # IPv6 literal
        bucket = parts.path.strip("/")
        if not bucket or "/" in bucket:
            raise ValueError("the S3 blob store URL needs exactly one bucket name as its path")
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        unknown = sorted(set(params) - _URL_PARAMS)
        if unknown:
            raise ValueError(f"unknown S3 blob store URL parameters: {', '.join(unknown)}")
        try:
            return cls(
                f"{host}:{port}" if port else host,
                bucket,
                access_key=unquote(parts.username) if parts.username else None,
                secret_key=unquote(parts.password) if parts.password is not None else None,
                secure=_flag(params.get("secure", "1")),
                region=params.get("region") or None,
                connect_timeout=float(params.get("connect_timeout", 5.0)),
                read_timeout=float(params.get("read_timeout", 60.0)),
                retries=int(params.get("retries", 3)),
                max_uploads=int(params.get("max_uploads", 8)),
                max_threads=int(params.get("max_threads", 16)),
            )
        except ValueError as exc:
            # minio's own messages quote nothing secret; still never echo the URL.
            raise ValueError(f"invalid S3 blob store URL: {exc}") from None

    @property
    def bucket(self) -> str:
        return self._bucket

    def describe(self) -> str:
        scheme = "https" if self._secure else "http"
        region = self._region or "auto"
        return f"s3 bucket {self._bucket!r} at {scheme}://{self._endpoint} (region {region})"

    def __repr__(self) -> str:
        return f"<S3BlobStore {self.describe()}>"

    # -- async API -------------------------------------------------------------------------

    async def put(
        self, key: str, data: BlobData, *, content_type: str = DEFAULT_CONTENT_TYPE
    ) -> PutResult:
        validate_key(key)
        self._check_open()
        measure = Measure()
        await feed_thread(
            iter_source(data, self._worker),
            partial(self._upload, key, content_type, measure),
            executor=self._uploads,
            max_buffered=PIPE_BUFFER,
        )
        return PutResult(key=key, size=measure.size, sha256=measure.hexdigest())

    async def open(self, key: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> BlobReader:
        check_chunk_size(chunk_size)
        validate_key(key)
        self._check_open()
        response = await self._worker.run(self._get, key)
        return ThreadedReader(
            partial(self._read_chunk, response),
            partial(_release, response),
            chunk_size,
            self._worker,
        )

    async def read(self, key: str) -> bytes:
        return await read_all(await self.open(key))

    async def stat(self, key: str) -> BlobStat:
        validate_key(key)
        self._check_open()
        return await self._worker.run(self._stat, key)

    async def delete(self, key: str) -> None:
        validate_key(key)
        self._check_open()
        await self._worker.run(self._delete, key)

    async def list(self, prefix: str = "") -> AsyncIterator[BlobStat]:
        validate_prefix(prefix)
        self._check_open()
        pages = self._iter_objects(prefix)
        while batch := await self._worker.run(_take, pages, LIST_BATCH):
            for entry in batch:
                yield entry

    async def ping(self) -> None:
        self._check_open()
        await self._worker.run(self._ping)

    def parts(self) -> S3Parts:
        """The part API (storage/blobs/parts.py): multipart uploads for resumable ones."""
        return S3Parts(self._client, self._bucket, self._errors, self._ensure_bucket)

    async def aclose(self) -> None:
        """Wait for running calls, then drop the threads and pooled connections."""
        if self._closed:
            return
        self._closed = True
        await Worker().run(self._shutdown)

    # -- blocking helpers (worker threads) --------------------------------------------------

    def _upload(self, key: str, content_type: str, measure: Measure, pipe: ChunkPipe) -> None:
        source = _MeasuredReader(pipe, measure)
        with self._errors(key, writing=True):
            self._ensure_bucket()
            self._client.put_object(
                self._bucket,
                key,
                cast(BinaryIO, source),
                length=-1,
                part_size=PART_SIZE,
                content_type=content_type,
                num_parallel_uploads=1,  # see the module docstring: memory
            )

    def _get(self, key: str) -> BaseHTTPResponse:
        with self._errors(key):
            self._ensure_bucket()
            return self._client.get_object(self._bucket, key)

    def _read_chunk(self, response: BaseHTTPResponse, size: int) -> bytes:
        with self._errors():
            return response.read(size)

    def _stat(self, key: str) -> BlobStat:
        with self._errors(key):
            self._ensure_bucket()
            info = self._client.stat_object(self._bucket, key)
        return BlobStat(key=key, size=info.size or 0, modified_at=_utc(info.last_modified))

    def _delete(self, key: str) -> None:
        try:
            with self._errors(key):
                self._ensure_bucket()
                self._client.remove_object(self._bucket, key)
        except BlobNotFound:
            pass  # S3 answers 204 for a missing key; a missing bucket holds nothing either

    def _iter_objects(self, prefix: str) -> Iterator[BlobStat]:
        try:
            with self._errors(prefix):
                self._ensure_bucket()
                objects: Iterator[Object] = self._client.list_objects(
                    self._bucket, prefix=prefix or None, recursive=True
                )
                for obj in objects:
                    name = obj.object_name
                    if name and not obj.is_dir and is_valid_key(name):
                        yield BlobStat(
                            key=name, size=obj.size or 0, modified_at=_utc(obj.last_modified)
                        )
        except BlobNotFound:
            return  # the bucket vanished: nothing under any prefix

    def _ping(self) -> None:
        try:
            with self._errors():
                if not self._client.bucket_exists(self._bucket):
                    self._bucket_ready = False
                self._ensure_bucket()
        except BlobStoreUnavailable:
            raise
        except BlobError as exc:
            raise BlobStoreUnavailable(f"{self.describe()} is not usable: {exc}") from exc

    def _ensure_bucket(self) -> None:
        """Create the bucket once per store, on first use; concurrent first calls wait."""
        if self._bucket_ready:
            return
        with self._bucket_lock:
            if self._bucket_ready:
                return
            if not self._client.bucket_exists(self._bucket):
                try:
                    self._client.make_bucket(self._bucket, location=self._region)
                except S3Error as exc:
                    if exc.code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                        raise
            self._bucket_ready = True

    @contextlib.contextmanager
    def _errors(self, key: str | None = None, *, writing: bool = False) -> Iterator[None]:
        """Translate minio / urllib3 errors into blob store errors."""
        try:
            yield
        except S3Error as exc:
            if exc.code == "NoSuchBucket":
                self._bucket_ready = False  # deleted behind our back: recreate on next use
            if exc.code in _NOT_FOUND and key is not None and not writing:
                raise BlobNotFound(key) from exc
            if exc.code == "NoSuchBucket":
                raise BlobStoreUnavailable(f"{self.describe()}: the bucket is gone") from exc
            raise BlobError(f"{self.describe()} refused the request: {exc.code}") from exc
        except (ServerError, InvalidResponseError) as exc:
            raise BlobStoreUnavailable(f"{self.describe()} failed: {exc}") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise BlobStoreUnavailable(
                f"cannot reach {self.describe()}: {type(exc).__name__}"
            ) from exc

    def _check_open(self) -> None:
        if self._closed:
            raise BlobError(f"{self.describe()}: the store was closed")

    def _shutdown(self) -> None:
        self._uploads.shutdown(wait=True)
        self._io.shutdown(wait=True)
        self._http.clear()


class _MeasuredReader:
    """The file object handed to minio: reads from the pipe and measures what it passes on,
    so size and SHA-256 describe exactly the uploaded bytes."""

    def __init__(self, pipe: ChunkPipe, measure: Measure) -> None:
        self._pipe = pipe
        self._measure = measure

    def read(self, size: int = -1) -> bytes:
        data = self._pipe.read(size)
        self._measure.update(data)
        return data


def _release(response: BaseHTTPResponse) -> None:
    # A fully read response can go back to the pool for reuse; a half-read one cannot.
    if getattr(response, "length_remaining", None) != 0:
        response.close()
    response.release_conn()


def _take(entries: Iterator[BlobStat], count: int) -> list[BlobStat]:
    return list(islice(entries, count))


def _utc(value: datetime | None) -> datetime:
    if value is None:
        return datetime.fromtimestamp(0, UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _flag(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError("secure must be 0 or 1")
