"""Stream plumbing shared by the backends: worker threads, sources, hashing, readers.

Two rules shape this module:

* Blocking calls run in worker threads, and a thread cannot be interrupted. So when the
  awaiting task is cancelled we still wait for the thread to finish (:func:`settle`) before
  the cancellation propagates; otherwise clean-up code (closing a file, removing a temporary
  file) could race with a thread that is still using it.
* Memory stays bounded: data moves in chunks, and the hand-off to a thread that *pulls*
  data (the minio client reads from a file-like object) holds at most about ``max_buffered``
  bytes (:class:`ChunkPipe`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import io
import threading
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterable, Callable
from concurrent.futures import Executor
from typing import ParamSpec, TypeVar

from storage.blobs.base import BlobData, BlobReader

P = ParamSpec("P")
T = TypeVar("T")

SOURCE_CHUNK_SIZE = 1 << 20
"""Chunk size used to cut bytes and file objects given to ``put``."""


async def settle(fut: asyncio.Future[T]) -> T:
    """Await ``fut`` to its end even if the caller is cancelled meanwhile.

    A cancellation that arrives while waiting is re-raised once ``fut`` is done. ``fut``
    itself is never cancelled (``asyncio.wait`` does not cancel what it waits for).
    """
    cancelled: asyncio.CancelledError | None = None
    while True:
        try:
            await asyncio.wait((fut,))
            break
        except asyncio.CancelledError as exc:
            cancelled = exc
    if cancelled is not None:
        if not fut.cancelled():
            fut.exception()  # mark as retrieved: the cancellation wins
        raise cancelled
    return fut.result()


class Worker:
    """Runs blocking callables in an executor (``None``: the event loop's default one)."""

    def __init__(self, executor: Executor | None = None) -> None:
        self.executor = executor

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))
        return await settle(fut)


class Measure:
    """Size and SHA-256 of the bytes that pass through :meth:`update`."""

    def __init__(self) -> None:
        self._sha256 = hashlib.sha256()
        self.size = 0

    def update(self, data: bytes) -> None:
        self._sha256.update(data)
        self.size += len(data)

    def hexdigest(self) -> str:
        return self._sha256.hexdigest()


async def iter_source(data: BlobData, worker: Worker) -> AsyncGenerator[bytes, None]:
    """Turn anything ``put`` accepts into an async iterator of non-empty ``bytes`` chunks."""
    if isinstance(data, bytes | bytearray | memoryview):
        view = memoryview(data).cast("B")
        for start in range(0, len(view), SOURCE_CHUNK_SIZE):
            yield bytes(view[start : start + SOURCE_CHUNK_SIZE])
    elif isinstance(data, AsyncIterable):
        async for chunk in data:
            if not isinstance(chunk, bytes | bytearray | memoryview):
                raise TypeError(f"put() got a {type(chunk).__name__} chunk; expected bytes")
            if chunk:
                yield bytes(chunk)
    elif callable(getattr(data, "read", None)):
        while chunk := await worker.run(data.read, SOURCE_CHUNK_SIZE):
            if not isinstance(chunk, bytes | bytearray):
                raise TypeError("put() needs a file object opened in binary mode")
            yield bytes(chunk)
    else:
        raise TypeError(
            f"put() takes bytes, a binary file object or an async iterable of bytes, "
            f"not {type(data).__name__}"
        )


async def coalesce(
    source: AsyncGenerator[bytes, None], min_size: int
) -> AsyncGenerator[bytes, None]:
    """Join small chunks until at least ``min_size`` bytes (the last chunk may be smaller),
    so a source of tiny chunks does not cost one thread hop per chunk. Closes ``source``."""
    pending: list[bytes] = []
    pending_size = 0
    async with contextlib.aclosing(source):
        async for chunk in source:
            pending.append(chunk)
            pending_size += len(chunk)
            if pending_size >= min_size:
                yield pending[0] if len(pending) == 1 else b"".join(pending)
                pending, pending_size = [], 0
    if pending:
        yield b"".join(pending)


class SourceAborted(Exception):
    """Raised in the consuming thread when the producer side of a :class:`ChunkPipe` failed
    or was cancelled; the producer re-raises the real exception."""


class ChunkPipe:
    """Hands chunks from a coroutine (producer, on the event loop) to one blocking reader in
    a worker thread (consumer), holding at most about ``max_buffered`` bytes in between.

    The consumer sees a minimal binary file with a blocking :meth:`read`.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, max_buffered: int, max_read: int = 1 << 20
    ) -> None:
        self._loop = loop
        self._max_buffered = max_buffered
        self._max_read = max_read
        self._cond = threading.Condition()
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._eof = False
        self._aborted = False
        self._consumer_done = False
        self._space = asyncio.Event()

    # -- producer side (event loop) -------------------------------------------------------

    async def send(self, chunk: bytes) -> bool:
        """Queue a chunk, waiting for room. False when the consumer has stopped reading."""
        while True:
            with self._cond:
                if self._consumer_done:
                    return False
                # An empty pipe takes any chunk, however large, so big chunks cannot stall.
                if not self._chunks or self._buffered + len(chunk) <= self._max_buffered:
                    self._chunks.append(chunk)
                    self._buffered += len(chunk)
                    self._cond.notify_all()
                    return True
                # Cleared under the lock: any read after this point sets it again.
                self._space.clear()
            await self._space.wait()

    def close(self) -> None:
        """End of stream: the consumer reads what is queued, then gets ``b""``."""
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def abort(self) -> None:
        """Producer failed: the consumer's next (or current) read raises SourceAborted."""
        with self._cond:
            self._aborted = True
            self._chunks.clear()
            self._buffered = 0
            self._cond.notify_all()

    # -- consumer side (worker thread) ----------------------------------------------------

    def read(self, size: int = -1) -> bytes:
        """Block until ``min(size, max_read)`` bytes are there (fewer at the end of the
        stream, ``b""`` after it) and return them; ``size < 0`` means ``max_read``.

        Capped at ``max_read``: the minio client concatenates the pieces of a part itself,
        so handing it a whole part at once would only add one more part-sized copy."""
        wanted = min(size, self._max_read) if size >= 0 else self._max_read
        gathered: io.BytesIO | None = None
        with self._cond:
            while wanted > 0:
                while not self._chunks and not self._eof and not self._aborted:
                    self._cond.wait()
                if self._aborted:
                    raise SourceAborted
                if not self._chunks:
                    break  # end of stream
                chunk = self._chunks.popleft()
                if len(chunk) > wanted:
                    self._chunks.appendleft(chunk[wanted:])
                    chunk = chunk[:wanted]
                self._buffered -= len(chunk)
                wanted -= len(chunk)
                self._loop.call_soon_threadsafe(self._space.set)
                if gathered is None and wanted == 0:
                    return chunk  # one chunk was enough: no copy
                if gathered is None:
                    gathered = io.BytesIO()
                gathered.write(chunk)
                del chunk  # BytesIO copied it: free it before waiting for the next one
        # getvalue() hands over BytesIO's own buffer: the pieces were copied once only.
        return gathered.getvalue() if gathered is not None else b""

    def consumer_finished(self) -> None:
        with self._cond:
            self._consumer_done = True
        self._loop.call_soon_threadsafe(self._space.set)


async def feed_thread(
    source: AsyncGenerator[bytes, None],
    consume: Callable[[ChunkPipe], T],
    *,
    executor: Executor,
    max_buffered: int,
) -> T:
    """Run ``consume(pipe)`` in ``executor`` while this task feeds it ``source``.

    The source is iterated by the calling task itself (never from another task or thread),
    so async generators that hold cancel scopes or contexts keep working. If the source
    raises or the caller is cancelled, the pipe is aborted, the consumer is waited for (so
    it can clean up, e.g. abort a multipart upload), and the original exception propagates.
    ``source`` is closed in every case.
    """
    loop = asyncio.get_running_loop()
    pipe = ChunkPipe(loop, max_buffered)

    def run() -> T:
        try:
            return consume(pipe)
        finally:
            pipe.consumer_finished()

    job = executor.submit(run)
    result = asyncio.wrap_future(job, loop=loop)
    try:
        async with contextlib.aclosing(source):
            async for chunk in source:
                if not await pipe.send(chunk):
                    break  # the consumer gave up: its error is the one to report
        pipe.close()
    except BaseException:
        pipe.abort()
        if not job.cancel():  # still queued: then it never runs
            # Whatever the consumer raised is a consequence of the producer's error.
            with contextlib.suppress(Exception):
                await settle(result)
        raise
    return await settle(result)


class ThreadedReader:
    """:class:`BlobReader` over a blocking ``read(n)`` / ``close()`` pair (a file, an HTTP
    response); each read runs in a worker thread."""

    def __init__(
        self,
        read: Callable[[int], bytes],
        close: Callable[[], None],
        chunk_size: int,
        worker: Worker,
    ) -> None:
        self._read = read
        self._close = close
        self._chunk_size = chunk_size
        self._worker = worker
        self._closed = False

    def __aiter__(self) -> ThreadedReader:
        return self

    async def __anext__(self) -> bytes:
        if self._closed:
            raise StopAsyncIteration
        try:
            chunk = await self._worker.run(self._read, self._chunk_size)
        except BaseException:
            await self.aclose()
            raise
        if not chunk:
            await self.aclose()
            raise StopAsyncIteration
        return chunk

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._worker.run(self._close)

    def __del__(self) -> None:
        # Safety net for a reader dropped without aclose(): closing a file or an HTTP
        # response does not block.
        if not getattr(self, "_closed", True):
            self._closed = True
            with contextlib.suppress(Exception):
                self._close()


class BytesReader:
    """:class:`BlobReader` over bytes already in memory."""

    def __init__(self, data: bytes, chunk_size: int) -> None:
        self._view = memoryview(data)
        self._chunk_size = chunk_size
        self._offset = 0

    def __aiter__(self) -> BytesReader:
        return self

    async def __anext__(self) -> bytes:
        if self._offset >= len(self._view):
            raise StopAsyncIteration
        chunk = bytes(self._view[self._offset : self._offset + self._chunk_size])
        self._offset += len(chunk)
        return chunk

    async def aclose(self) -> None:
        self._offset = len(self._view)


def check_chunk_size(chunk_size: int) -> int:
    if not isinstance(chunk_size, int) or chunk_size <= 0:
        raise ValueError("chunk_size must be a positive int")
    return chunk_size


async def read_all(reader: BlobReader) -> bytes:
    return b"".join([chunk async for chunk in reader])
