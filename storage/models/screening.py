from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class ScreeningEvent(Base):
    """A school screening day: site, date, hygienist; its roster is the enrollments."""

    __tablename__ = "screening_event"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT"), index=True
    )
    site: Mapped[str] = mapped_column(String(200))
    event_date: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(2))
    hygienist_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )


class ScreeningEnrollment(Base):
    """One child on an event's roster, and where the screening of that child stands."""

    __tablename__ = "screening_enrollment"
    __table_args__ = (
        UniqueConstraint("event_id", "patient_id", name="uq_screening_enrollment_child"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("screening_event.id", ondelete="CASCADE"), index=True
    )
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"))
    roster_line: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    """pending | screened | not_screened | submitted."""
    not_screened_reason: Mapped[str] = mapped_column(Text, default="")
    case_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("case.id", ondelete="SET NULL"), default=None
    )
    roster_date: Mapped[date | None] = mapped_column(Date, default=None)
