"""Account verbs: authenticate, create, set password. Used by pages, API and CLI alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.accounts.passwords import hash_password, needs_rehash, verify_password
from storage.models import User


def normalize_email(email: str) -> str:
    return email.strip().lower()


@dataclass(frozen=True)
class SignInResult:
    user: User | None

    @property
    def ok(self) -> bool:
        return self.user is not None


async def authenticate(db: AsyncSession, email: str, password: str) -> SignInResult:
    """Check credentials; upgrade the hash when the parameters changed. Same cost and the
    same answer whether the email is unknown or the password wrong."""
    user = await db.scalar(select(User).where(User.email == normalize_email(email)))
    hash_ = user.password_hash if user is not None and user.is_active else None
    if not verify_password(hash_, password) or user is None:
        return SignInResult(None)
    if hash_ and needs_rehash(hash_):
        user.password_hash = hash_password(password)
    user.last_login_at = datetime.now(UTC)
    return SignInResult(user)
