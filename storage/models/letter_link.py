"""A results letter link: what a guardian without a login opens to read their child's
screening results letter. Only the token's SHA-256 hash is kept (the token is derived when the
mail is sent, reviewer/screening/letter_links.py), so a copy of the table opens nothing."""

from __future__ import annotations

import uuid
from datetime import datetime

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class LetterLink(Base):
    """One child's letter of one screening event, for the guardian's mail."""

    __tablename__ = "letter_link"
    __table_args__ = (Index("ix_letter_link_event_patient", "screening_event_id", "patient_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    """SHA-256 (hex) of the token in the link; never the token."""
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patient.id", ondelete="CASCADE"), index=True
    )
    screening_event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("screening_event.id", ondelete="CASCADE")
    )
    language: Mapped[str] = mapped_column(String(8))
    """The letter's language when the link was made (``en``/``es``)."""
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    opened_count: Mapped[int] = mapped_column(Integer, default=0)
    last_opened_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
