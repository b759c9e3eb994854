"""The tus 1.0 wire format: headers in and out, nothing about cases or blobs.

https://tus.io/protocols/resumable-upload — core protocol plus the creation, termination and
expiration extensions (no checksum, concatenation or creation-with-upload).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator
from datetime import datetime
from email.utils import format_datetime
from typing import Final

import anyio

TUS_VERSION: Final = "1.0.0"
EXTENSIONS: Final = "creation,termination,expiration"
OFFSET_TYPE: Final = "application/offset+octet-stream"
MAX_METADATA: Final = 4096


class TusRefused(Exception):
    """A request the protocol refuses: status, stable code, message for people."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def base_headers() -> dict[str, str]:
    return {"Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store"}


def check_version(value: str | None) -> None:
    """Every request but OPTIONS names the protocol version it speaks (412 otherwise)."""
    if value != TUS_VERSION:
        raise TusRefused(412, "unsupported_version",
                         f"Send Tus-Resumable: {TUS_VERSION} (the only version served).")


def parse_length(value: str | None, name: str) -> int:
    if value is None or not value.isdigit() or len(value) > 18:
        raise TusRefused(400, "invalid_header", f"{name} must be a whole number of bytes.")
    return int(value)


def parse_metadata(value: str | None) -> dict[str, str]:
    """``Upload-Metadata``: comma-separated ``key base64value`` pairs (value optional)."""
    if not value:
        return {}
    if len(value) > MAX_METADATA:
        raise TusRefused(400, "invalid_metadata", "Upload-Metadata is too long.")
    pairs: dict[str, str] = {}
    for item in value.split(","):
        key, _, encoded = item.strip().partition(" ")
        if not key:
            continue
        try:
            pairs[key] = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise TusRefused(400, "invalid_metadata",
                             "Upload-Metadata values are base64 UTF-8.") from None
    return pairs


def expires_header(moment: datetime) -> str:
    """RFC 7231 HTTP date (``Fri, 04 Dec 2026 21:00:00 GMT``)."""
    return format_datetime(moment, usegmt=True)


class Stalled(Exception):
    """No byte of the body arrived for the chunk timeout."""


async def timed(chunks: AsyncIterator[bytes], chunk_seconds: float) -> AsyncIterator[bytes]:
    """The body's chunks, each awaited at most ``chunk_seconds`` (uvicorn has no body read
    timeout: a trickling client would otherwise hold the request forever)."""
    while True:
        try:
            with anyio.fail_after(chunk_seconds):
                chunk = await anext(chunks)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise Stalled from None
        if chunk:
            yield chunk
