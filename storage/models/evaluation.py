from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from advanced_alchemy.types import DateTimeUTC, JsonB
from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class Evaluation(Base):
    """The dentist's asynchronous review of a case; immutable once signed."""

    __tablename__ = "evaluation"

    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("case.id", ondelete="CASCADE"), unique=True
    )
    dentist_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="RESTRICT")
    )
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft | signed
    findings: Mapped[str] = mapped_column(Text, default="")
    """PHI."""
    teeth_findings: Mapped[list[dict[str, Any]]] = mapped_column(JsonB, default=list)
    diagnosis: Mapped[str] = mapped_column(Text, default="")
    """PHI."""
    advice: Mapped[str] = mapped_column(Text, default="")
    """PHI: plain-language advice the patient reads."""
    urgency: Mapped[str | None] = mapped_column(String(16), default=None)
    procedures: Mapped[list[dict[str, Any]]] = mapped_column(JsonB, default=list)
    """Recommended treatment (treatment plan), never claim lines."""
    referral: Mapped[dict[str, Any] | None] = mapped_column(JsonB, default=None)
    follow_up_days: Mapped[int | None] = mapped_column(Integer, default=None)
    internal_notes: Mapped[str] = mapped_column(Text, default="")
    """PHI: seen by staff only, never by the submitter."""
    signed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
    attestation: Mapped[str | None] = mapped_column(Text, default=None)
    content_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    """Hash of the signed content: proves it never changed."""
    review_started_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
    """Set at signing: the signer's first opening of an image of the case (display or
    original variant), or the signing time when none was opened."""
    review_ended_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
    """Set at signing: the signature's time (the review spans first view to signature)."""
    image_review: Mapped[list[dict[str, Any]] | None] = mapped_column(JsonB, default=None)
    """Set at signing, one entry per attachment of the case: ``attachment_id``,
    ``opened_at`` (ISO, the signer's first opening) or ``reason`` (PHI: why the signer did
    not open it). Covered by ``content_sha256``; None on evaluations signed before it."""
    distant_site: Mapped[str | None] = mapped_column(Text, default=None)
    """Where the dentist reviewed, recorded at signing (their practice address, else the
    organization's); None for a review signed before it was recorded."""
    distant_site_state: Mapped[str | None] = mapped_column(String(2), default=None)


class Addendum(Base):
    """A signed note added to a signed evaluation."""

    __tablename__ = "addendum"

    evaluation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("evaluation.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    text: Mapped[str] = mapped_column(Text)
    """PHI."""
    signed_at: Mapped[datetime] = mapped_column(DateTimeUTC)


class InfoRequest(Base):
    """"Please retake / answer this": sends a case back to its submitter."""

    __tablename__ = "info_request"

    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("case.id", ondelete="CASCADE"), index=True
    )
    requested_by_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="RESTRICT")
    )
    message: Mapped[str] = mapped_column(Text)
    response: Mapped[str | None] = mapped_column(Text, default=None)
    answered_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
