"""API bearer tokens: issued once, stored as sha256, listed and revocable by their owner.

A token works while all of these hold (else it answers 401 like an unknown one):

- it is not revoked and ``expires_at`` (``TOOTHLINE_API_TOKEN_DAYS`` after issue) is ahead;
- the owner is active;
- the owner's grant still hashes to the fingerprint taken at issue: role, organizations and
  ``User.session_epoch`` (bumped by deactivation, reactivation, password resets and admin
  changes of role or organizations). Recomputed on every request from the user row, so a
  change from any code path ends the token without anyone having to revoke it.

Scopes: ``read`` and ``write``; ``write`` includes ``read``. A token without ``write`` is
refused (403 ``insufficient_scope``) on every non-safe method by the auth middleware.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from portal.accounts.patients_link import linked_patient_ids
from reviewer.errors import NotFound, Unprocessable
from storage.audit import AuditContext, record_event
from storage.models import ApiToken, User

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

TOKEN_PREFIX = "tl_"  # noqa: S105 - a marker, not a secret
PREFIX_LENGTH = 12
LAST_USED_GRANULARITY = timedelta(minutes=1)
"""``last_used_at`` is written at most once a minute per token, not on every request."""

READ, WRITE = "read", "write"
SCOPES = (READ, WRITE)
DEFAULT_SCOPES = (READ, WRITE)
"""What a token may do when the request names no scopes: everything, as before scopes
existed, so existing integrations keep working. Ask for ``["read"]`` for a read-only one."""
FULL_SCOPES = frozenset(SCOPES)

ACTIVE, EXPIRED, REVOKED, INVALIDATED = "active", "expired", "revoked", "invalidated"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def grant_fingerprint(
    user_id: uuid.UUID, role: str, organization_ids: Iterable[uuid.UUID], epoch: int
) -> str:
    """What the token was granted, as a hash: any change of role, organizations or epoch
    changes it. The migration that added the column (0006) carries a frozen copy of this
    formula: change the version tag here, not the formula, if it ever has to change."""
    orgs = ",".join(sorted(str(org_id) for org_id in organization_ids))
    material = f"v1|{user_id}|{role}|{orgs}|{epoch}"
    return hashlib.sha256(material.encode()).hexdigest()


def user_fingerprint(user: User) -> str:
    return grant_fingerprint(user.id, user.role, user.organization_ids, user.session_epoch)


def normalize_scopes(requested: Sequence[str] | None) -> tuple[str, ...]:
    """The sorted scope tuple for a request: ``None`` gives the default, ``write`` brings
    ``read`` with it; an empty list or an unknown name is refused."""
    if requested is None:
        return DEFAULT_SCOPES
    if not requested:
        raise Unprocessable("Choose at least one scope: read, write.", code="invalid_scope")
    unknown = sorted({str(name) for name in requested} - FULL_SCOPES)
    if unknown:
        raise Unprocessable(
            f"Unknown scope {unknown[0][:32]!r}; the scopes are read and write.",
            code="invalid_scope",
        )
    wanted = set(requested)
    if WRITE in wanted:
        wanted.add(READ)
    return tuple(name for name in SCOPES if name in wanted)


def token_scopes(token: ApiToken) -> tuple[str, ...]:
    stored = set(token.scopes.split())
    return tuple(name for name in SCOPES if name in stored)


def token_status(token: ApiToken, owner: User, now: datetime | None = None) -> str:
    """``revoked``, ``invalidated`` (the owner's grant changed or the account is inactive),
    ``expired`` or ``active``."""
    now = now or datetime.now(UTC)
    if token.revoked_at is not None:
        return REVOKED
    if not owner.is_active or not hmac.compare_digest(
        token.grant_fingerprint, user_fingerprint(owner)
    ):
        return INVALIDATED
    if token.expires_at <= now:
        return EXPIRED
    return ACTIVE


async def issue_token(
    db: AsyncSession,
    user: User,
    name: str,
    context: AuditContext,
    *,
    lifetime: timedelta,
    scopes: Sequence[str] | None = None,
) -> tuple[ApiToken, str]:
    """A new token for ``user``: the row, and the secret (returned this once only)."""
    label = (name or "").strip()
    if not label or len(label) > 100:
        raise Unprocessable("Give the token a name of 1 to 100 characters.", code="invalid_name")
    granted = normalize_scopes(scopes)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=label, token_hash=hash_token(secret),
                     prefix=secret[:PREFIX_LENGTH], scopes=" ".join(granted),
                     expires_at=datetime.now(UTC) + lifetime,
                     grant_fingerprint=user_fingerprint(user))
    db.add(token)
    await db.flush()
    await record_event(
        db, "api_token.created", context,
        organization_id=user.organizations[0].id if user.organizations else None,
        subject_type="api_token", subject_id=token.id,
        details={"user_id": str(user.id), "scopes": list(granted),
                 "expires_at": token.expires_at.isoformat()},
    )
    return token, secret


@dataclass(frozen=True)
class TokenGrant:
    """What a valid bearer token stands for."""

    user: User
    patient_ids: frozenset[uuid.UUID]
    scopes: frozenset[str]


@dataclass(frozen=True)
class ListedToken:
    """One of the owner's tokens with its status, for the account page and the API."""

    token: ApiToken
    status: str

    @property
    def scopes(self) -> tuple[str, ...]:
        return token_scopes(self.token)


async def user_for_token(db: AsyncSession, token: str) -> TokenGrant | None:
    """The grant of a working token, else ``None`` (unknown, revoked, expired, the account
    deactivated, or its role, organizations or epoch changed since the token was issued)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    found = (
        await db.execute(
            select(ApiToken, User)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == hash_token(token))
        )
    ).first()
    if found is None:
        return None
    row, user = found
    now = datetime.now(UTC)
    if token_status(row, user, now) != ACTIVE:
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_GRANULARITY:
        row.last_used_at = now
    return TokenGrant(user=user, patient_ids=await linked_patient_ids(db, user),
                      scopes=frozenset(token_scopes(row)))


async def list_tokens(db: AsyncSession, owner: User) -> list[ListedToken]:
    rows = (
        await db.scalars(
            select(ApiToken).where(ApiToken.user_id == owner.id).order_by(ApiToken.created_at)
        )
    ).all()
    now = datetime.now(UTC)
    return [ListedToken(row, token_status(row, owner, now)) for row in rows]


async def revoke_token(
    db: AsyncSession, user_id: uuid.UUID, token_id: uuid.UUID, context: AuditContext
) -> ApiToken:
    """Revoke one of the user's own tokens (another user's answers NotFound)."""
    row = await db.scalar(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user_id)
    )
    if row is None:
        raise NotFound("No such token.")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        await record_event(db, "api_token.revoked", context, subject_type="api_token",
                           subject_id=row.id, details={"user_id": str(user_id)})
    return row
