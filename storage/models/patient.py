from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from advanced_alchemy.types import DateTimeUTC, JsonB
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, metadata


class Patient(Base):
    """The person whose mouth is in the pictures. Every column here except ids is PHI."""

    __tablename__ = "patient"
    __table_args__ = (
        UniqueConstraint("organization_id", "student_id", name="uq_patient_org_student"),
        Index("ix_patient_org_name", "organization_id", "last_name", "first_name"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT"), index=True
    )
    first_name: Mapped[str] = mapped_column(String(100))
    """PHI."""
    last_name: Mapped[str] = mapped_column(String(100))
    """PHI."""
    date_of_birth: Mapped[date] = mapped_column(Date)
    """PHI."""
    student_id: Mapped[str | None] = mapped_column(String(64), default=None)
    """PHI: a school's id for a screened child."""
    school: Mapped[str | None] = mapped_column(String(200), default=None)
    grade: Mapped[str | None] = mapped_column(String(16), default=None)
    guardian_name: Mapped[str | None] = mapped_column(String(200), default=None)
    """PHI: parent or guardian of a minor."""
    guardian_phone: Mapped[str | None] = mapped_column(String(32), default=None)
    guardian_email: Mapped[str | None] = mapped_column(String(254), default=None)
    preferred_language: Mapped[str | None] = mapped_column(String(8), default=None)
    """``en`` or ``es``: what a patient or guardian without a login is written to in (a
    screening roster's ``language`` column, later); None: English."""
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    """PHI."""
    phone: Mapped[str | None] = mapped_column(String(32), default=None)
    """PHI."""
    address_line: Mapped[str] = mapped_column(String(200), default="")
    """PHI."""
    city: Mapped[str] = mapped_column(String(100), default="")
    state: Mapped[str] = mapped_column(String(2), default="")
    """Home state: decides which licensed dentists may review the patient's cases."""
    postal_code: Mapped[str] = mapped_column(String(10), default="")
    payer_name: Mapped[str | None] = mapped_column(String(200), default=None)
    member_id: Mapped[str | None] = mapped_column(String(64), default=None)
    """PHI: insurance member id."""
    medical_alerts: Mapped[str] = mapped_column(Text, default="")
    """PHI: allergies, conditions the reviewing dentist must see."""
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JsonB, default=list)
    """PHI: medical conditions, each ``{"name", "note"}`` (reviewer/patients/history.py)."""
    medications: Mapped[list[dict[str, Any]]] = mapped_column(JsonB, default=list)
    """PHI: medications taken, entries as for conditions."""
    allergies: Mapped[list[dict[str, Any]]] = mapped_column(JsonB, default=list)
    """PHI: allergies, entries as for conditions."""
    no_known_allergies: Mapped[bool | None] = mapped_column(Boolean, default=None)
    """The explicit answer "no known allergies" (None: not answered)."""
    history_updated_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
    """When the medical history last changed."""
    history_updated_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )
    history_updated_by: Mapped[str | None] = mapped_column(String(300), default=None)
    """Who last changed it, as printed: name and role (kept if the login goes)."""

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


patient_login = Table(
    "patient_login",
    metadata,
    Column("user_id", ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True),
    Column("patient_id", ForeignKey("patient.id", ondelete="CASCADE"), primary_key=True),
)
"""Which patients a patient-role login may see: the patient themself, or a guardian's children."""
