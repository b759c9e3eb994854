"""Credentials the portal must send to another system (an image archive's password) are stored
sealed: AES-256-GCM under a key derived from the audit key (``TOOTHLINE_AUDIT_KEY``, one key
per purpose, ``storage/audit.py``), so a copy of the database alone does not hand them out.

The stored form is ``v1:`` + base64url(nonce ‖ ciphertext ‖ tag); the row's purpose is the
associated data, so a sealed value moved to another column or row does not open. A changed
audit key makes earlier values unreadable: :class:`SealBroken`, and the password is entered
again (the archive page says so).
"""

from __future__ import annotations

import base64
import os
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from storage.audit import current_audit_key

PREFIX: Final = "v1:"
NONCE_BYTES: Final = 12


class SealBroken(ValueError):
    """The value was sealed under another key, or changed."""


def _aead() -> AESGCM:
    key = current_audit_key().seal
    if len(key) != 32:
        raise SealBroken("no sealing key configured")
    return AESGCM(key)


def seal(plaintext: str, purpose: str) -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = _aead().encrypt(nonce, plaintext.encode(), purpose.encode())
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(stored: str, purpose: str) -> str:
    if not stored.startswith(PREFIX):
        raise SealBroken("not a sealed value")
    try:
        raw = base64.urlsafe_b64decode(stored[len(PREFIX):].encode())
        opened = _aead().decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], purpose.encode())
    except (InvalidTag, ValueError) as exc:
        raise SealBroken("the value does not open with this key") from exc
    return opened.decode()
