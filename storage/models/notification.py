"""Notifications to patients and guardians: one row per message, its attempts and outcome.

A notification says only that something waits at the organization, with a link to sign in
(``reviewer/notifications``). The row keeps who it is for (a login and/or a patient), never
the address: that is looked up when the message is sent, so the table holds no address book
and a changed address or choice counts at once. ``last_error`` names the kind of failure
(``SMTPRecipientsRefused``, ``http 401``), never an address or message text.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class Notification(Base):
    """One message to one person on one channel."""

    __tablename__ = "notification"
    __table_args__ = (
        Index("ix_notification_due", "state", "next_attempt_at"),
        Index("ix_notification_subject", "subject_type", "subject_id"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    recipient_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), default=None, index=True
    )
    """A patient-role login (the patient or a guardian) whose account choice is used."""
    patient_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("patient.id", ondelete="CASCADE"), default=None, index=True
    )
    """The patient it is about; without a login the patient's (or guardian's) contact is used."""
    kind: Mapped[str] = mapped_column(String(32))
    """advice_ready | info_requested | records_ready | referral_reminder | results_ready"""
    channel: Mapped[str] = mapped_column(String(8))
    """email | sms | none"""
    state: Mapped[str] = mapped_column(String(16), default="queued")
    """queued | sent | failed | skipped"""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(200), default=None)
    """The failure's kind only: never an address, a name or message text."""
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
    sent_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
    subject_type: Mapped[str] = mapped_column(String(32))
    """case | records_request | referral | letter_link"""
    subject_id: Mapped[uuid.UUID] = mapped_column()
    case_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("case.id", ondelete="SET NULL"), default=None, index=True
    )
    """The case it belongs to, when there is one (staff list notifications by case)."""
