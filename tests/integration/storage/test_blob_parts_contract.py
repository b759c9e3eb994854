"""The part API (storage/blobs/parts.py) behaves the same on file, S3 (moto) and memory."""

from __future__ import annotations

import hashlib
import itertools
import random

import pytest

from storage.blobs import BlobNotFound, new_blob_key
from storage.blobs.parts import PART_SIZE, PartialAppend, PartOverflow, PartState, part_uploads
from tests.integration.storage import test_blob_contract as contract
from tests.integration.storage.test_blob_contract import Backend, chunks_of

backend_url = contract.backend_url  # the contract's fixtures: every backend
backend = contract.backend

MiB = 1 << 20


def data_of(size: int, seed: int = 3) -> bytes:
    return random.Random(seed).randbytes(size)


async def test_appends_of_any_size_become_one_blob(backend: Backend) -> None:
    parts = part_uploads(backend.store)
    data = data_of(PART_SIZE + 3 * MiB + 17)  # more than one S3 part, odd tail
    key = new_blob_key("uploads/received")
    state = await parts.begin(key)
    cuts = [0, 1000, 4 * MiB, PART_SIZE + 10, len(data)]
    for start, end in itertools.pairwise(cuts):
        body = data[start:end]
        state = await parts.append(
            PartState.from_json(state.to_json()),  # as kept in a row between requests
            chunks_of(*[body[i:i + 65536] for i in range(0, len(body), 65536)]),
            max_bytes=len(data) - state.offset,
        )
        assert state.offset == end
    await parts.complete(state)

    stored = await backend.store.read(key)
    assert hashlib.sha256(stored).hexdigest() == hashlib.sha256(data).hexdigest()
    await backend.store.delete(key)
    assert backend.leftover_files() == []


async def test_a_cut_body_keeps_what_arrived_and_resumes_from_there(backend: Backend) -> None:
    parts = part_uploads(backend.store)
    data = data_of(2 * MiB + 5)
    key = new_blob_key("uploads/received")
    state = await parts.begin(key)

    with pytest.raises(PartialAppend) as cut:
        await parts.append(state, chunks_of(data[:700_000], fail_with=ConnectionError("gone")),
                           max_bytes=len(data))
    assert isinstance(cut.value.cause, ConnectionError)
    state = cut.value.state
    assert state.offset == 700_000

    state = await parts.append(state, chunks_of(data[state.offset:]), max_bytes=len(data))
    assert state.offset == len(data)
    await parts.complete(state)
    assert await backend.store.read(key) == data
    await backend.store.delete(key)


async def test_more_than_announced_is_cut_at_the_limit(backend: Backend) -> None:
    parts = part_uploads(backend.store)
    state = await parts.begin(new_blob_key("uploads/received"))
    with pytest.raises(PartialAppend) as over:
        await parts.append(state, chunks_of(b"a" * 100, b"b" * 100), max_bytes=150)
    assert isinstance(over.value.cause, PartOverflow)
    assert over.value.state.offset == 150
    await parts.abort(over.value.state)


async def test_abort_leaves_nothing(backend: Backend) -> None:
    parts = part_uploads(backend.store)
    key = new_blob_key("uploads/received")
    state = await parts.begin(key)
    state = await parts.append(state, chunks_of(data_of(300_000)), max_bytes=1 << 30)
    await parts.abort(state)
    await parts.abort(state)  # twice is fine

    with pytest.raises(BlobNotFound):
        await backend.store.stat(key)
    assert [entry.key async for entry in backend.store.list()] == []
    assert backend.leftover_files() == []


async def test_an_empty_upload_completes_to_an_empty_blob(backend: Backend) -> None:
    parts = part_uploads(backend.store)
    key = new_blob_key("uploads/received")
    state = await parts.begin(key)
    state = await parts.append(state, chunks_of(), max_bytes=0)
    await parts.complete(state)
    assert await backend.store.read(key) == b""
    await backend.store.delete(key)


async def test_a_state_never_recorded_does_not_spoil_the_one_before(backend: Backend) -> None:
    """A crash after an append stored bytes but before the caller kept the new state: the
    next append starts again from the recorded state and the blob is still right."""
    parts = part_uploads(backend.store)
    data = data_of(PART_SIZE + 2 * MiB + 3)
    key = new_blob_key("uploads/received")
    recorded = await parts.append(await parts.begin(key), chunks_of(data[:3 * MiB]),
                                  max_bytes=len(data))
    await parts.append(recorded, chunks_of(b"x" * (PART_SIZE + 10)), max_bytes=len(data))  # lost

    done = await parts.append(recorded, chunks_of(data[3 * MiB:]), max_bytes=len(data))
    await parts.complete(done)
    assert await backend.store.read(key) == data
    await backend.store.delete(key)
    assert [entry.key async for entry in backend.store.list()] == []
