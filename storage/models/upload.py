"""A resumable (tus) upload in progress: where its bytes stand until it becomes an
attachment (reviewer/intake/uploads.py, portal/uploads/)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from advanced_alchemy.types import DateTimeUTC, JsonB
from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class Upload(Base):
    """One tus upload, owned by the user who created it, for one case of their organization.

    ``token`` is the unguessable id in the upload's URL (``/api/v1/uploads/{token}``); the
    blob keys in ``part_state`` are random (no PHI in keys). The row stays after completion
    (with ``attachment_id``) so a client that lost the last answer learns the outcome from a
    HEAD; the sweep removes it once expired.
    """

    __tablename__ = "upload"

    token: Mapped[str] = mapped_column(String(64), unique=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"))
    filename: Mapped[str | None] = mapped_column(String(255), default=None)
    """PHI possible (a client's file name): shown back to its owner only, never in keys or
    logs."""
    kind: Mapped[str | None] = mapped_column(String(16), default=None)
    view: Mapped[str | None] = mapped_column(String(32), default=None)
    teeth: Mapped[str | None] = mapped_column(String(200), default=None)
    length: Mapped[int] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger, default=0)
    """Bytes durably stored: what a HEAD answers and the next PATCH must start at."""
    part_state: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    """``storage.blobs.parts.PartState.to_json()``: backend details, random keys only."""
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC, index=True)
    attachment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("attachment.id", ondelete="SET NULL"), default=None
    )
