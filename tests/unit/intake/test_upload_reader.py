"""The streaming multipart reader, fed chunk by chunk without any HTTP."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from portal.intake.upload import MULTIPART_OVERHEAD, UploadRefused, read_multipart

BOUNDARY = "b0undary"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def body(fields: dict[str, str], files: list[tuple[str, bytes]]) -> bytes:
    out = b""
    for name, value in fields.items():
        out += (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                f"{value}\r\n").encode()
    for name, data in files:
        out += (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="x.jpg"\r\nContent-Type: image/jpeg\r\n\r\n').encode()
        out += data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


async def chunks(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]
    yield b""


async def read(data: bytes, tmp_path: Path, max_file_bytes: int = 1 << 20, **kw: float):
    return await read_multipart(chunks(data), CONTENT_TYPE, tmp_path,
                                max_file_bytes=max_file_bytes, **kw)


async def test_fields_and_the_file_are_read_and_hashed(tmp_path: Path):
    payload = bytes(range(256)) * 40
    result = await read(body({"kind": "photo", "view": "left"}, [("file", payload)]), tmp_path)
    assert result.fields == {"kind": "photo", "view": "left"}
    assert result.file is not None
    assert result.file.path.read_bytes() == payload
    assert result.file.size == len(payload)
    assert result.file.sha256 == hashlib.sha256(payload).hexdigest()


async def test_the_byte_limit_stops_the_stream(tmp_path: Path):
    with pytest.raises(UploadRefused) as refused:
        await read(body({}, [("file", b"x" * 5000)]), tmp_path, max_file_bytes=4000)
    assert (refused.value.status, refused.value.code) == (413, "too_large")
    assert list(tmp_path.iterdir()) == []


async def test_the_body_limit_counts_everything(tmp_path: Path):
    padding = b"p" * (MULTIPART_OVERHEAD + 2000)  # a preamble the parser would skip
    data = padding + body({}, [("file", b"x" * 10)])
    with pytest.raises(UploadRefused) as refused:
        await read(data, tmp_path, max_file_bytes=1000)
    assert refused.value.status == 413


@pytest.mark.parametrize(
    "data",
    [
        body({}, [("file", b"abc")])[:-30],  # truncated
        b"not multipart at all",
        body({}, [("file", b"a"), ("file", b"b")]),  # two files
        body({}, [("photo", b"a")]),  # the file in the wrong field
        body({"notes": "z" * 5000}, [("file", b"a")]),  # a huge text field
    ],
)
async def test_broken_bodies_are_400_and_leave_no_file(data: bytes, tmp_path: Path):
    with pytest.raises(UploadRefused) as refused:
        await read(data, tmp_path)
    assert refused.value.status == 400
    assert list(tmp_path.iterdir()) == []


async def test_a_body_without_a_file_is_refused(tmp_path: Path):
    with pytest.raises(UploadRefused) as refused:
        await read(body({"kind": "photo"}, []), tmp_path)
    assert refused.value.code == "file_required"


async def test_not_multipart_is_refused(tmp_path: Path):
    with pytest.raises(UploadRefused) as refused:
        await read_multipart(chunks(b"{}"), "application/json", tmp_path, max_file_bytes=10)
    assert refused.value.code == "malformed_upload"


async def test_a_slow_but_steady_body_is_read_past_the_chunk_timeout(tmp_path: Path):
    data = body({"kind": "photo"}, [("file", b"x" * 200)])

    async def slow() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 40):  # 10 chunks, one every half chunk_timeout
            await asyncio.sleep(0.1)
            yield data[start:start + 40]

    result = await read_multipart(slow(), CONTENT_TYPE, tmp_path, max_file_bytes=1000,
                                  chunk_timeout=0.2)
    assert result.file is not None
    assert result.file.path.read_bytes() == b"x" * 200


async def test_a_stalled_body_answers_408(tmp_path: Path):
    never = asyncio.Event()

    async def trickle() -> AsyncIterator[bytes]:
        yield body({}, [("file", b"abc")])[:50]
        await never.wait()  # the client stops sending
        yield b""

    with pytest.raises(UploadRefused) as refused:
        await read_multipart(trickle(), CONTENT_TYPE, tmp_path, max_file_bytes=100,
                             chunk_timeout=0.05)
    assert (refused.value.status, refused.value.code) == (408, "request_timeout")
    assert list(tmp_path.iterdir()) == []
