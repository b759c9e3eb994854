"""The streaming upload reader: a multipart body goes to a temporary file, never into memory.

litestar would parse a multipart body into memory (``UploadFile`` spools only above 1 MiB and
still reads the whole body first); the upload routes instead read ``request.stream()`` and
feed it to the push parser of the ``multipart`` package. On the way the file part is counted
(stopping at the byte limit), hashed (sha256 of the bytes as received) and written to a file
in a private work folder. Each chunk read is bounded by a timeout, so a client that trickles
its body cannot hold a worker (uvicorn has no body read timeout).

Browsers must send the CSRF token in the ``x-csrftoken`` header: the CSRF middleware refuses
a multipart body without it (it would otherwise read the whole body looking for a form
field, and the stream read here would wait forever).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final

import anyio
from multipart import MultipartError, MultipartSegment, PushMultipartParser, parse_options_header

from reviewer.intake.attachments import ReceivedFile

WRITE_SIZE: Final = 1 << 20
"""File bytes are gathered to this size, then hashed and written in one worker-thread call:
hashing on the event loop (about 25 ms per 6 MB here) held up every other request, and one
thread hop per 64 KiB chunk cost more than the write."""
MULTIPART_OVERHEAD: Final = 64 * 1024
"""Room for the boundaries, part headers and the small text fields beside the file."""
MAX_FIELD_BYTES: Final = 4096
MAX_PARTS: Final = 16
CHUNK_TIMEOUT_S: Final = 30.0
"""The longest wait for the next chunk of a body before answering 408, less up to an eighth of
it (at most a second): the deadline is moved on no more often than that."""
FILE_FIELD: Final = "file"


class UploadRefused(Exception):
    """A body the reader will not take: an HTTP status, a stable code, a message for people."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def too_large(max_file_bytes: int) -> UploadRefused:
    megabytes = max_file_bytes / (1024 * 1024)
    return UploadRefused(
        413, "too_large", f"This file is too large. Files of up to {megabytes:.0f} MB are accepted."
    )


def malformed(detail: str = "") -> UploadRefused:
    return UploadRefused(
        400,
        "malformed_upload",
        "The upload could not be read" + (f" ({detail})" if detail else "")
        + ". Please try again.",
    )


@dataclass
class StreamedUpload:
    """The text fields and the one file of a multipart body."""

    fields: dict[str, str] = field(default_factory=dict)
    file: ReceivedFile | None = None

    def discard(self) -> None:
        if self.file is not None:
            self.file.path.unlink(missing_ok=True)


def _create(path: Path) -> BinaryIO:
    return path.open("xb")


def _hash_and_write(out: BinaryIO, sha: Any, data: bytes | bytearray) -> None:
    sha.update(data)  # hashlib releases the GIL on big buffers
    out.write(data)


def boundary_of(content_type: str | None) -> str:
    kind, options = parse_options_header(content_type or "")
    if kind != "multipart/form-data" or not options.get("boundary"):
        raise UploadRefused(
            400, "malformed_upload", "Send the file as multipart/form-data (a form upload)."
        )
    return str(options["boundary"])


def check_announced_length(content_length: int | None, max_body_bytes: int,
                           max_file_bytes: int) -> None:
    if content_length is not None and content_length > max_body_bytes:
        raise too_large(max_file_bytes)


def _stalled() -> UploadRefused:
    return UploadRefused(
        408, "request_timeout",
        "The upload stalled. Check the connection and send the file again.",
    )


async def read_multipart(
    chunks: AsyncIterator[bytes],
    content_type: str | None,
    workdir: Path,
    *,
    max_file_bytes: int,
    chunk_timeout: float = CHUNK_TIMEOUT_S,
) -> StreamedUpload:
    """Read a multipart body with text fields and exactly one file part named ``file``.

    The file lands in ``workdir`` under a random name. Raises :class:`UploadRefused` (and
    leaves no file behind) for a malformed, truncated, stalled or oversized body.
    """
    boundary = boundary_of(content_type)
    max_body_bytes = max_file_bytes + MULTIPART_OVERHEAD
    result = StreamedUpload()
    path = workdir / f"upload-{secrets.token_hex(12)}"
    sha = hashlib.sha256()
    size = 0
    total = 0
    segment: MultipartSegment | None = None
    field_value = bytearray()
    out: BinaryIO | None = None
    pending = bytearray()

    async def flush() -> None:
        nonlocal pending
        if out is not None and pending:
            full, pending = pending, bytearray()  # handed over whole: no copy
            await anyio.to_thread.run_sync(_hash_and_write, out, sha, full)

    try:
        parser = PushMultipartParser(
            boundary, max_segment_count=MAX_PARTS, max_header_count=8, strict=False
        )
        # One cancel scope for the whole body, its deadline moved on as chunks arrive, at most
        # once a second (a scope per chunk, or a new timer per chunk, cost more than parsing).
        with anyio.CancelScope() as stall:
            moved, step = -chunk_timeout, min(1.0, chunk_timeout / 8)
            while True:
                now = anyio.current_time()
                if now - moved >= step:
                    stall.deadline, moved = now + chunk_timeout, now
                chunk = await anext(chunks, None)
                if chunk is None:
                    break
                total += len(chunk)
                if total > max_body_bytes:
                    raise too_large(max_file_bytes)
                if not chunk:
                    continue
                for event in parser.parse(chunk):
                    if isinstance(event, MultipartSegment):
                        segment = event
                        field_value.clear()
                        if event.filename is not None or event.name == FILE_FIELD:
                            if out is not None or result.file is not None:
                                raise malformed("send one file per request")
                            if event.name != FILE_FIELD:
                                raise malformed(f"the file goes in the '{FILE_FIELD}' field")
                            out = await anyio.to_thread.run_sync(_create, path)
                    elif event is None:  # end of the current part
                        if segment is not None and out is not None:
                            await flush()
                            await anyio.to_thread.run_sync(out.close)
                            out = None
                            result.file = ReceivedFile(path=path, size=size, sha256=sha.hexdigest())
                        elif segment is not None and segment.name:
                            try:
                                result.fields[segment.name] = field_value.decode("utf-8")
                            except UnicodeDecodeError:
                                raise malformed("a text field is not UTF-8") from None
                        segment = None
                    elif out is not None:
                        size += len(event)
                        if size > max_file_bytes:
                            raise too_large(max_file_bytes)
                        pending += event
                        if len(pending) >= WRITE_SIZE:
                            await flush()
                    else:
                        field_value.extend(event)
                        if len(field_value) > MAX_FIELD_BYTES:
                            raise malformed("a text field is too long")
        if stall.cancelled_caught:
            raise _stalled()
        parser.close()  # raises on a truncated body
        if result.file is None:
            raise UploadRefused(400, "file_required", "Choose a file to upload.")
        return result
    except BaseException as exc:
        if out is not None:
            out.close()
        path.unlink(missing_ok=True)
        if isinstance(exc, MultipartError):
            raise malformed("the multipart body is broken or incomplete") from exc
        raise
