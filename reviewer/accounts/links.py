"""Single-use access links (invitations and password resets): only the token's hash is kept."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AccessLink

INVITE = "invite"
RESET = "reset"
LIFETIMES = {INVITE: timedelta(days=7), RESET: timedelta(hours=24)}
"""How long a link works: an invitation a week (it travels by letter or text), a reset a day."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedLink:
    user_id: uuid.UUID
    purpose: str
    token: str
    """The secret: shown once to the staff member who issued it, never stored."""
    expires_at: datetime


async def issue_link(
    db: AsyncSession, user_id: uuid.UUID, purpose: str, *, created_by_id: uuid.UUID | None
) -> IssuedLink:
    """A new link for ``user_id``; earlier unused links of the same purpose stop working."""
    if purpose not in LIFETIMES:
        raise ValueError(f"unknown link purpose {purpose!r}")
    await db.execute(
        delete(AccessLink).where(
            AccessLink.user_id == user_id,
            AccessLink.purpose == purpose,
            AccessLink.used_at.is_(None),
        )
    )
    token = secrets.token_urlsafe(32)
    expires_at = datetime.now(UTC) + LIFETIMES[purpose]
    db.add(
        AccessLink(
            user_id=user_id,
            purpose=purpose,
            token_hash=token_hash(token),
            expires_at=expires_at,
            created_by_id=created_by_id,
        )
    )
    await db.flush()
    return IssuedLink(user_id=user_id, purpose=purpose, token=token, expires_at=expires_at)


async def find_valid_link(db: AsyncSession, token: str) -> AccessLink | None:
    """The unused, unexpired link for ``token``, else ``None`` (one answer for every failure)."""
    if not token or len(token) > 200:
        return None
    link = await db.scalar(select(AccessLink).where(AccessLink.token_hash == token_hash(token)))
    if link is None or link.used_at is not None or link.expires_at <= datetime.now(UTC):
        return None
    return link


async def consume_link(db: AsyncSession, link: AccessLink) -> bool:
    """Mark the link used, atomically: of two requests racing with one link only one wins."""
    result = await db.execute(
        update(AccessLink)
        .where(AccessLink.id == link.id, AccessLink.used_at.is_(None))
        .values(used_at=datetime.now(UTC))
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)
