"""Blob key rules, the same for every backend.

A key is one or more segments joined by ``/``; each segment uses ``a-z 0-9 _ . -`` only and
is neither empty, ``.`` nor ``..``; at most 512 characters. Such a key is a safe relative
path on any file system and a plain S3 object name, so the backends never need to escape
anything — and ``../../etc/passwd`` or ``/abs`` are refused before any backend sees them.
Keys carry no PHI: build them with :func:`storage.blobs.new_blob_key`.
"""

from __future__ import annotations

import re
import secrets

from storage.blobs.base import InvalidBlobKey

MAX_KEY_LENGTH = 512
_KEY_CHARS = re.compile(r"[a-z0-9/_.-]+")


def validate_key(key: str) -> str:
    """Return ``key`` unchanged, or raise :class:`InvalidBlobKey` saying which rule it breaks."""
    if not isinstance(key, str):
        raise InvalidBlobKey(f"a blob key is a str, not {type(key).__name__}")
    if not key:
        raise InvalidBlobKey("the blob key is empty")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidBlobKey(f"the blob key is longer than {MAX_KEY_LENGTH} characters")
    if not _KEY_CHARS.fullmatch(key):
        raise InvalidBlobKey("a blob key may contain only a-z, 0-9, '/', '_', '.' and '-'")
    if key.startswith("/"):
        raise InvalidBlobKey("a blob key is relative: it must not start with '/'")
    for segment in key.split("/"):
        if not segment:
            raise InvalidBlobKey(
                "a blob key must not contain an empty segment ('//' or a '/' at the end)"
            )
        if segment in {".", ".."}:
            raise InvalidBlobKey("a blob key must not contain a '.' or '..' segment")
    return key


def is_valid_key(key: str) -> bool:
    try:
        validate_key(key)
    except InvalidBlobKey:
        return False
    return True


def validate_prefix(prefix: str) -> str:
    """Check a :meth:`BlobStore.list` prefix: ``""``, a key, or a key followed by ``/``.

    A prefix is matched as a plain string prefix, so ``"case/ab"`` also lists
    ``"case/abc"``; end it with ``/`` to list one "folder".
    """
    if prefix == "":
        return prefix
    validate_key(prefix.removesuffix("/"))
    return prefix


def new_blob_key(prefix: str) -> str:
    """A fresh random key under ``prefix``: ``f"{prefix}/{32 hex digits}"`` (128 random bits).

    ``prefix`` must itself be a valid key, e.g. ``"attachments/original"``.
    """
    validate_key(prefix)
    return validate_key(f"{prefix}/{secrets.token_hex(16)}")
