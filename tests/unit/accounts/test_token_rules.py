"""API token rules without a database: scopes, the grant fingerprint, the status."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from portal.accounts.tokens import (
    grant_fingerprint,
    normalize_scopes,
    token_status,
    user_fingerprint,
)
from reviewer.errors import Unprocessable
from storage.models import ApiToken, Organization, User


def test_scopes_default_normalize_and_refuse() -> None:
    assert normalize_scopes(None) == ("read", "write")
    assert normalize_scopes(["read"]) == ("read",)
    assert normalize_scopes(["write"]) == ("read", "write")
    assert normalize_scopes(["write", "read", "read"]) == ("read", "write")
    for bad in ([], ["admin"], ["read", "READ"]):
        with pytest.raises(Unprocessable) as info:
            normalize_scopes(bad)
        assert info.value.code == "invalid_scope"


def test_fingerprint_follows_role_organizations_and_epoch_not_their_order() -> None:
    user, a, b = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    base = grant_fingerprint(user, "dentist", [a, b], 0)
    assert grant_fingerprint(user, "dentist", [b, a], 0) == base
    assert grant_fingerprint(user, "hygienist", [a, b], 0) != base
    assert grant_fingerprint(user, "dentist", [a], 0) != base
    assert grant_fingerprint(user, "dentist", [a, b], 1) != base
    assert grant_fingerprint(uuid.uuid4(), "dentist", [a, b], 0) != base


def test_status_order() -> None:
    org = Organization(id=uuid.uuid4(), name="Clinic")
    owner = User(id=uuid.uuid4(), email="d@x.test", role="dentist", is_active=True,
                 session_epoch=0, organizations=[org])
    now = datetime.now(UTC)
    token = ApiToken(user_id=owner.id, name="t", token_hash="h", prefix="p", scopes="read",
                     expires_at=now + timedelta(days=1), grant_fingerprint=user_fingerprint(owner))
    assert token_status(token, owner, now) == "active"
    assert token_status(token, owner, now + timedelta(days=2)) == "expired"
    owner.session_epoch = 1
    assert token_status(token, owner, now) == "invalidated"
    owner.session_epoch = 0
    owner.is_active = False
    assert token_status(token, owner, now) == "invalidated"
    token.revoked_at = now
    assert token_status(token, owner, now) == "revoked"
