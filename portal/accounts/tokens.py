"""API bearer tokens. Issued and stored hashed by the accounts area (see issue 4)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from storage.models import User


async def user_for_token(
    db: AsyncSession, token: str
) -> tuple[User, frozenset[uuid.UUID]] | None:
    """The active user a token belongs to and the patients they may see, else ``None``."""
    return None
