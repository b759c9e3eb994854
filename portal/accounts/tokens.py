"""API bearer tokens: issued once, stored as sha256, listed and revocable by their owner."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
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


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_token(
    db: AsyncSession, user: User, name: str, context: AuditContext
) -> tuple[ApiToken, str]:
    """A new token for ``user``: the row, and the secret (returned this once only)."""
    label = (name or "").strip()
    if not label or len(label) > 100:
        raise Unprocessable("Give the token a name of 1 to 100 characters.", code="invalid_name")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=label, token_hash=hash_token(secret),
                     prefix=secret[:PREFIX_LENGTH])
    db.add(token)
    await db.flush()
    await record_event(
        db, "api_token.created", context,
        organization_id=user.organizations[0].id if user.organizations else None,
        subject_type="api_token", subject_id=token.id, details={"user_id": str(user.id)},
    )
    return token, secret


async def user_for_token(
    db: AsyncSession, token: str
) -> tuple[User, frozenset[uuid.UUID]] | None:
    """The active user a token belongs to and the patients they may see, else ``None``
    (unknown, revoked, or the account is deactivated)."""
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
    if row.revoked_at is not None or not user.is_active:
        return None
    now = datetime.now(UTC)
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_GRANULARITY:
        row.last_used_at = now
    return user, await linked_patient_ids(db, user)


async def list_tokens(db: AsyncSession, user_id: uuid.UUID) -> Sequence[ApiToken]:
    return (
        await db.scalars(
            select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.created_at)
        )
    ).all()


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
