"""One contract, every blob store backend: file, S3 (moto) and memory behave the same."""

from __future__ import annotations

import asyncio
import hashlib
import io
import random
import re
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage.blobs import (
    BlobError,
    BlobNotFound,
    BlobStat,
    BlobStore,
    BlobStoreUnavailable,
    FileBlobStore,
    InvalidBlobKey,
    MemoryBlobStore,
    S3BlobStore,
    new_blob_key,
    open_blob_store,
    store_file,
)
from tests.support.s3server import S3Server, free_port

MiB = 1 << 20
BAD_KEYS = ["../../etc/passwd", "/abs", "a//b", "a/../b"]


@dataclass
class Backend:
    name: str
    store: BlobStore
    root: Path | None = None  # the file backend's folder
    bounded_memory: bool = True  # False: the backend keeps blobs in memory by design

    def leftover_files(self) -> list[Path]:
        if self.root is None or not self.root.exists():
            return []
        return [path for path in self.root.rglob("*") if not path.is_dir()]


@pytest.fixture(params=["file", pytest.param("s3", marks=pytest.mark.s3), "memory"])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    if request.param == "file":
        return "file", f"file://{tmp_path / 'blobs'}"
    if request.param == "s3":
        server: S3Server = request.getfixturevalue("s3_server")
        return "s3", server.url(server.new_bucket_name("contract"))  # fresh bucket per test
    return "memory", "memory://"


@pytest.fixture
async def backend(backend_url: tuple[str, str], tmp_path: Path) -> AsyncIterator[Backend]:
    name, url = backend_url
    backend = Backend(
        name,
        open_blob_store(url),
        root=tmp_path / "blobs" if name == "file" else None,
        bounded_memory=name != "memory",
    )
    try:
        yield backend
    finally:
        # moto keeps every object in memory for the whole session: leave nothing behind.
        async for entry in backend.store.list():
            await backend.store.delete(entry.key)
        await backend.store.aclose()


async def chunks_of(*chunks: bytes, fail_with: Exception | None = None) -> AsyncIterator[bytes]:
    for chunk in chunks:
        await asyncio.sleep(0)
        yield chunk
    if fail_with is not None:
        raise fail_with


def random_chunks(total: int, chunk_size: int, seed: int) -> Iterator[bytes]:
    """Deterministic pseudo-random data, produced chunk by chunk (never held whole)."""
    rng = random.Random(seed)
    left = total
    while left:
        size = min(chunk_size, left)
        yield rng.randbytes(size)
        left -= size


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- put / read round trips ---------------------------------------------------------------


async def test_put_bytes_round_trip(backend: Backend) -> None:
    store = backend.store
    data = b"intra-oral photo \x00\xff" * 100

    result = await store.put("case/photo-1", data, content_type="image/jpeg")

    assert result.key == "case/photo-1"
    assert result.size == len(data)
    assert result.sha256 == sha256(data)
    assert await store.read("case/photo-1") == data


async def test_put_empty_blob(backend: Backend) -> None:
    result = await backend.store.put("case/empty", b"")

    assert (result.size, result.sha256) == (0, sha256(b""))
    assert await backend.store.read("case/empty") == b""
    assert (await backend.store.stat("case/empty")).size == 0


async def test_put_async_iterator_of_unknown_length(backend: Backend) -> None:
    parts = [b"a" * 100_000, b"", b"b" * 7, bytes(range(256)) * 1000]

    result = await backend.store.put("case/stream", chunks_of(*parts))

    data = b"".join(parts)
    assert (result.size, result.sha256) == (len(data), sha256(data))
    assert await backend.store.read("case/stream") == data


async def test_put_sync_binary_file_objects(backend: Backend, tmp_path: Path) -> None:
    data = bytes(random.Random(7).randbytes(3 * MiB + 11))
    on_disk = tmp_path / "upload.bin"
    on_disk.write_bytes(data)

    from_memory = await backend.store.put("case/bytesio", io.BytesIO(data))
    with on_disk.open("rb") as handle:
        from_file = await backend.store.put("case/file", handle)

    for result in (from_memory, from_file):
        assert (result.size, result.sha256) == (len(data), sha256(data))
        assert await backend.store.read(result.key) == data


async def test_store_file_stores_a_finished_file(backend: Backend, tmp_path: Path) -> None:
    data = bytes(random.Random(8).randbytes(2 * MiB + 5))
    on_disk = tmp_path / "cleaned.bin"
    on_disk.write_bytes(data)

    result = await store_file(backend.store, "case/cleaned", on_disk, content_type="image/jpeg")

    assert (result.key, result.size, result.sha256) == ("case/cleaned", len(data), sha256(data))
    assert await backend.store.read("case/cleaned") == data

    another = tmp_path / "another.bin"
    another.write_bytes(data)
    with pytest.raises(InvalidBlobKey):
        await store_file(backend.store, "../../etc/passwd", another)
    assert another.read_bytes() == data  # refused before anything was moved


async def test_put_rejects_text_sources(backend: Backend) -> None:
    with pytest.raises(TypeError):
        await backend.store.put("case/text", io.StringIO("not bytes"))  # type: ignore[arg-type]
    with pytest.raises(BlobNotFound):
        await backend.store.stat("case/text")


async def test_put_replaces_an_existing_blob(backend: Backend) -> None:
    await backend.store.put("case/x", b"first version")
    await backend.store.put("case/x", b"second")

    assert await backend.store.read("case/x") == b"second"
    assert (await backend.store.stat("case/x")).size == 6


async def test_large_stream_round_trip_in_bounded_memory(backend: Backend) -> None:
    total, chunk_size = 30 * MiB, 64 * 1024  # 64 KiB: what an ASGI server hands over
    sent = hashlib.sha256()

    async def source() -> AsyncIterator[bytes]:
        for chunk in random_chunks(total, chunk_size, seed=30):
            sent.update(chunk)
            yield chunk

    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = await backend.store.put("case/radiograph", source())
        received, received_size = hashlib.sha256(), 0
        async for chunk in await backend.store.open("case/radiograph"):
            received.update(chunk)
            received_size += len(chunk)
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        if not was_tracing:
            tracemalloc.stop()

    assert result.size == received_size == total
    assert result.sha256 == sent.hexdigest() == received.hexdigest()
    assert (await backend.store.stat("case/radiograph")).size == total
    if backend.bounded_memory:
        assert peak < 16 * MiB, f"peak {peak / MiB:.1f} MiB for a {total // MiB} MiB blob"


async def test_put_does_not_block_the_event_loop(backend: Backend) -> None:
    gaps: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    async def source() -> AsyncIterator[bytes]:
        for chunk in random_chunks(12 * MiB, MiB, seed=12):
            await asyncio.sleep(0)  # like a network stream, which waits between chunks
            yield chunk

    tick = asyncio.create_task(ticker())
    try:
        await backend.store.put("case/big", source())
        async for _ in await backend.store.open("case/big"):
            pass
    finally:
        stop.set()
        await tick
    assert max(gaps) < 0.5, f"event loop stalled for {max(gaps):.2f} s"


# -- open / read / stat -------------------------------------------------------------------


async def test_open_streams_in_chunks(backend: Backend) -> None:
    data = random.Random(1).randbytes(200_000)
    await backend.store.put("case/chunked", data)

    chunks = [
        chunk async for chunk in await backend.store.open("case/chunked", chunk_size=64 * 1024)
    ]

    assert len(chunks) >= 4
    assert all(0 < len(chunk) <= 64 * 1024 for chunk in chunks)
    assert b"".join(chunks) == data


async def test_reader_can_be_closed_early(backend: Backend) -> None:
    await backend.store.put("case/partial", b"x" * 300_000)

    reader = await backend.store.open("case/partial", chunk_size=100_000)
    assert await anext(reader) == b"x" * 100_000
    await reader.aclose()
    await reader.aclose()  # twice is fine

    assert [chunk async for chunk in reader] == []
    await backend.store.delete("case/partial")


async def test_open_rejects_a_bad_chunk_size(backend: Backend) -> None:
    await backend.store.put("case/a", b"data")
    with pytest.raises(ValueError, match="chunk_size"):
        await backend.store.open("case/a", chunk_size=0)


async def test_stat_reports_size_and_utc_time(backend: Backend) -> None:
    before = datetime.now(UTC)
    await backend.store.put("case/stat-me", b"12345")

    info = await backend.store.stat("case/stat-me")

    assert isinstance(info, BlobStat)
    assert (info.key, info.size) == ("case/stat-me", 5)
    assert info.modified_at.utcoffset() == timedelta(0)
    # S3 reports whole seconds
    assert (
        before - timedelta(seconds=2)
        <= info.modified_at
        <= datetime.now(UTC) + timedelta(seconds=2)
    )


@pytest.mark.parametrize("operation", ["open", "read", "stat"])
async def test_missing_key_is_blob_not_found(backend: Backend, operation: str) -> None:
    method: Callable[[str], Awaitable[object]] = getattr(backend.store, operation)

    with pytest.raises(BlobNotFound) as raised:
        await method("case/never-stored")  # raised when awaited: before any iteration

    assert raised.value.key == "case/never-stored"
    assert isinstance(raised.value, BlobError)


async def test_a_prefix_of_stored_keys_is_not_a_blob(backend: Backend) -> None:
    await backend.store.put("case/folder/inner", b"data")

    with pytest.raises(BlobNotFound):
        await backend.store.stat("case/folder")
    with pytest.raises(BlobNotFound):
        await backend.store.open("case/folder")
    await backend.store.delete("case/folder")  # nothing there: no error, nothing removed
    assert await backend.store.read("case/folder/inner") == b"data"


# -- keys ---------------------------------------------------------------------------------


@pytest.mark.parametrize("key", BAD_KEYS)
@pytest.mark.parametrize("operation", ["put", "open", "read", "stat", "delete"])
async def test_invalid_keys_are_refused(backend: Backend, key: str, operation: str) -> None:
    store = backend.store
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "put": lambda: store.put(key, b"payload"),
        "open": lambda: store.open(key),
        "read": lambda: store.read(key),
        "stat": lambda: store.stat(key),
        "delete": lambda: store.delete(key),
    }

    with pytest.raises(InvalidBlobKey) as raised:
        await calls[operation]()

    assert isinstance(raised.value, ValueError)
    assert key not in str(raised.value)  # a bad key may be a file name: never echoed
    assert backend.leftover_files() == []


@pytest.mark.parametrize("prefix", ["/abs", "../x", "a//", "a/../"])
async def test_list_refuses_invalid_prefixes(backend: Backend, prefix: str) -> None:
    with pytest.raises(InvalidBlobKey):
        async for _ in backend.store.list(prefix):
            pass


# -- delete / list ------------------------------------------------------------------------


async def test_delete_is_idempotent(backend: Backend) -> None:
    await backend.store.put("case/gone", b"bye")

    await backend.store.delete("case/gone")
    await backend.store.delete("case/gone")
    await backend.store.delete("case/never-there")

    with pytest.raises(BlobNotFound):
        await backend.store.stat("case/gone")


async def test_list_returns_only_keys_under_the_prefix(backend: Backend) -> None:
    keys = ["cases/a/1", "cases/a/2", "cases/a.b", "cases/b/1", "casesx/1", "other/1"]
    for index, key in enumerate(keys):
        await backend.store.put(key, b"x" * index)

    async def listed(prefix: str) -> list[str]:
        return [entry.key async for entry in backend.store.list(prefix)]

    assert await listed("cases/a/") == ["cases/a/1", "cases/a/2"]
    assert await listed("cases/") == ["cases/a.b", "cases/a/1", "cases/a/2", "cases/b/1"]
    assert await listed("cases") == ["cases/a.b", "cases/a/1", "cases/a/2", "cases/b/1", "casesx/1"]
    assert await listed("cases/a") == ["cases/a.b", "cases/a/1", "cases/a/2"]
    assert await listed("") == sorted(keys)
    assert await listed("nothing/") == []
    sizes = {entry.key: entry.size async for entry in backend.store.list()}
    assert sizes == {key: index for index, key in enumerate(keys)}


# -- failures -----------------------------------------------------------------------------


@pytest.mark.parametrize("sent_before_failing", [100_000, 6 * MiB], ids=["small", "multipart"])
async def test_failed_put_leaves_nothing_behind(backend: Backend, sent_before_failing: int) -> None:
    source = chunks_of(
        *random_chunks(sent_before_failing, MiB, seed=3), fail_with=RuntimeError("client went away")
    )

    with pytest.raises(RuntimeError, match="client went away"):
        await backend.store.put("case/broken", source)

    with pytest.raises(BlobNotFound):
        await backend.store.stat("case/broken")
    assert [entry async for entry in backend.store.list()] == []
    assert backend.leftover_files() == []  # no partial file, no temporary file


async def test_failed_put_keeps_the_previous_version(backend: Backend) -> None:
    await backend.store.put("case/doc", b"version 1")

    with pytest.raises(RuntimeError):
        await backend.store.put("case/doc", chunks_of(b"version 2, half", fail_with=RuntimeError()))

    assert await backend.store.read("case/doc") == b"version 1"
    assert [path.name for path in backend.leftover_files()] in ([], ["doc"])


async def test_cancelled_put_leaves_nothing_behind(backend: Backend) -> None:
    first_chunk_taken = asyncio.Event()

    async def stalled() -> AsyncIterator[bytes]:
        yield b"a" * MiB
        first_chunk_taken.set()
        await asyncio.Event().wait()  # the client stops sending
        yield b"never"

    put = asyncio.create_task(backend.store.put("case/stalled", stalled()))
    await asyncio.wait_for(first_chunk_taken.wait(), 10)
    put.cancel()
    with pytest.raises(asyncio.CancelledError):
        await put

    with pytest.raises(BlobNotFound):
        await backend.store.stat("case/stalled")
    assert backend.leftover_files() == []


async def test_concurrent_first_puts(backend: Backend) -> None:
    # The S3 bucket is created lazily: many first calls at once must create it once.
    keys = [f"case/concurrent-{index}" for index in range(12)]

    results = await asyncio.gather(*(backend.store.put(key, key.encode()) for key in keys))

    assert [result.key for result in results] == keys
    assert [await backend.store.read(key) for key in keys] == [key.encode() for key in keys]


async def test_ping(backend: Backend) -> None:
    await backend.store.ping()


async def test_unreachable_s3_is_unavailable() -> None:
    port = free_port()  # nothing listens there
    store = open_blob_store(
        f"s3://k:s@127.0.0.1:{port}/bucket?secure=0&connect_timeout=0.5&retries=0"
    )
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "put": lambda: store.put("case/x", b"data"),
        "put-stream": lambda: store.put("case/x", chunks_of(b"a" * MiB, b"b" * MiB)),
        "open": lambda: store.open("case/x"),
        "stat": lambda: store.stat("case/x"),
        "delete": lambda: store.delete("case/x"),
        "list": lambda: anext(aiter(store.list()), None),
        "ping": store.ping,
    }
    started = time.monotonic()
    try:
        for name, call in calls.items():
            with pytest.raises(BlobStoreUnavailable):
                await call()
            assert time.monotonic() - started < 10, f"{name} took too long"
    finally:
        await store.aclose()


async def test_memory_store_can_be_switched_off() -> None:
    store = MemoryBlobStore()
    store.available = False
    with pytest.raises(BlobStoreUnavailable):
        await store.ping()
    with pytest.raises(BlobStoreUnavailable):
        await store.put("case/x", b"data")


async def test_file_store_stays_inside_its_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "blobs"
    root.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    store = FileBlobStore(root)

    with pytest.raises(InvalidBlobKey):
        await store.put("link/escape", b"data")
    with pytest.raises(InvalidBlobKey):
        await store.stat("link/escape")
    assert list(outside.iterdir()) == []


async def test_file_store_moves_a_file_from_its_own_file_system_in(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    work = tmp_path / "work"
    work.mkdir()
    cleaned = work / "cleaned.jpg"
    cleaned.write_bytes(b"\xff\xd8 cleaned bytes \xff\xd9")
    inode = cleaned.stat().st_ino

    result = await store_file(store, "attachments/original/x1", cleaned)

    stored = tmp_path / "blobs" / "attachments" / "original" / "x1"
    assert not cleaned.exists()  # moved, not copied
    assert stored.stat().st_ino == inode
    assert stored.stat().st_mode & 0o777 == 0o600
    assert result.sha256 == sha256(stored.read_bytes())
    assert list(work.iterdir()) == []


async def test_file_store_copies_a_file_from_another_file_system(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on a file system of its own")
    store = FileBlobStore(tmp_path / "blobs")
    elsewhere = shm / f"toothline-test-{random.Random().randrange(1 << 60):x}"
    elsewhere.write_bytes(b"bytes on another file system")
    try:
        assert await store.adopt("attachments/original/x2", elsewhere) is None
        assert elsewhere.exists()  # left as it was
        result = await store_file(store, "attachments/original/x2", elsewhere)
        assert await store.read(result.key) == b"bytes on another file system"
    finally:
        elsewhere.unlink(missing_ok=True)


# -- URLs, keys, descriptions -------------------------------------------------------------


def test_open_blob_store_picks_the_backend_by_scheme(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    relative = open_blob_store("file://./var/blobs")
    absolute = open_blob_store(f"file://{tmp_path}/abs")
    s3 = open_blob_store(
        "s3://AKIAXX:top%2Fsecret@127.0.0.1:9000/toothline?secure=0&region=us-east-1"
    )

    assert isinstance(relative, FileBlobStore) and relative.root == tmp_path / "var" / "blobs"
    assert isinstance(absolute, FileBlobStore) and absolute.root == tmp_path / "abs"
    assert isinstance(open_blob_store("memory://"), MemoryBlobStore)
    assert isinstance(s3, S3BlobStore) and s3.bucket == "toothline"
    assert all(isinstance(store, BlobStore) for store in (relative, absolute, s3))


@pytest.mark.parametrize(
    "url",
    [
        "ftp://host/x",
        "no-scheme",
        "file://",
        "s3://key:hunter2@127.0.0.1:9000/",
        "s3://key:hunter2@127.0.0.1:9000/a/b",
        "s3://key:hunter2@127.0.0.1:9000/bucket?secure=maybe",
        "s3://key:hunter2@127.0.0.1:9000/bucket?sekure=0",
        "s3://key:hunter2@127.0.0.1:9000/Bad_Bucket",
    ],
)
def test_open_blob_store_refuses_bad_urls_without_echoing_secrets(url: str) -> None:
    with pytest.raises(ValueError) as raised:
        open_blob_store(url)
    assert "hunter2" not in str(raised.value)


def test_describe_never_shows_credentials(tmp_path: Path) -> None:
    s3 = open_blob_store("s3://AKIAXX:hunter2@minio:9000/toothline?secure=0")

    assert "hunter2" not in s3.describe() and "AKIAXX" not in s3.describe()
    assert "hunter2" not in repr(s3)
    assert "minio:9000" in s3.describe() and "toothline" in s3.describe()
    assert str(tmp_path) in open_blob_store(f"file://{tmp_path}").describe()
    assert open_blob_store("memory://").describe() == "memory://"


def test_new_blob_key_is_random_and_carries_no_names() -> None:
    keys = {new_blob_key("attachments/original") for _ in range(1000)}

    assert len(keys) == 1000
    assert all(re.fullmatch(r"attachments/original/[0-9a-f]{32}", key) for key in keys)
    for bad_prefix in ["", "/abs", "Jane Doe", "a/../b", "a/"]:
        with pytest.raises(InvalidBlobKey):
            new_blob_key(bad_prefix)
