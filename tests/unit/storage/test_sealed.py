"""Sealed credentials: they open with the same key and purpose only, and never hold the
plaintext."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from storage.audit import AuditKey, configure_audit_key, current_audit_key
from storage.sealed import SealBroken, seal, unseal

KEY_A = "a" * 40
KEY_B = "b" * 40


@pytest.fixture(autouse=True)
def _key_restored() -> Iterator[None]:
    try:
        before: AuditKey | None = current_audit_key()
    except RuntimeError:
        before = None
    configure_audit_key(KEY_A)
    yield
    if before is not None:
        configure_audit_key(before)


def test_a_sealed_value_opens_with_its_purpose() -> None:
    sealed = seal("s3cret-pw ñ", "archive:1")
    assert sealed.startswith("v1:") and "s3cret" not in sealed
    assert unseal(sealed, "archive:1") == "s3cret-pw ñ"
    assert seal("s3cret-pw ñ", "archive:1") != sealed  # a fresh nonce each time


def test_another_purpose_another_key_or_a_changed_byte_does_not_open() -> None:
    sealed = seal("s3cret", "archive:1")
    with pytest.raises(SealBroken):
        unseal(sealed, "archive:2")
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(SealBroken):
        unseal(flipped, "archive:1")
    with pytest.raises(SealBroken):
        unseal("plain text", "archive:1")
    configure_audit_key(KEY_B)
    with pytest.raises(SealBroken):
        unseal(sealed, "archive:1")
