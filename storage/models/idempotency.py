from __future__ import annotations

import uuid
from typing import Any

from advanced_alchemy.types import JsonB
from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class IdempotencyRecord(Base):
    """One row per (user, Idempotency-Key) a write was done under: a repeated key finds the
    row and the write is answered from it instead of being done again. The unique constraint
    is what makes two concurrent repeats safe: the second insert fails and rolls back.

    ``scope`` names the kind of write (``screening.findings``) and ``subject_id`` what it was
    about; ``result`` holds ids only (never PHI)."""

    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_idempotency_record_user_key"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(128))
    scope: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
