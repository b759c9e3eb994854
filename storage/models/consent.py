from __future__ import annotations

import uuid
from datetime import datetime

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class Consent(Base):
    """A signed form (teledentistry, information_sharing, records_release) for one patient."""

    __tablename__ = "consent"
    __table_args__ = (Index("ix_consent_patient_form", "patient_id", "form", "version"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT"), index=True
    )
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"))
    form: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    """The language of the text accepted (each language's text is pinned like a version's;
    reviewer/consent_forms.py)."""
    given_by: Mapped[str] = mapped_column(String(16))  # patient | guardian
    given_by_name: Mapped[str] = mapped_column(String(200), default="")
    """PHI: who signed."""
    method: Mapped[str] = mapped_column(String(16))  # portal | paper | roster
    recorded_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )
    accepted_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    client_address: Mapped[str | None] = mapped_column(String(64), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
