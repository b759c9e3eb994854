from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Boolean, Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, metadata
from storage.models.organization import Organization


class Role(StrEnum):
    PATIENT = "patient"
    HYGIENIST = "hygienist"
    DENTIST = "dentist"
    COORDINATOR = "coordinator"
    FRONT_DESK = "front_desk"
    ADMIN = "admin"


user_organization = Table(
    "user_organization",
    metadata,
    Column("user_id", ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "organization_id", ForeignKey("organization.id", ondelete="CASCADE"), primary_key=True
    ),
)
"""Which organizations a user works for (staff) or is a patient of; a dentist serves several."""


class User(Base):
    """An account with exactly one role."""

    __tablename__ = "user_account"

    email: Mapped[str] = mapped_column(String(254), unique=True)
    """PHI for patients: their contact address. Stored lower-cased."""
    display_name: Mapped[str] = mapped_column(String(200), default="")
    """PHI for patients."""
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    npi: Mapped[str | None] = mapped_column(String(10), default=None)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
    session_epoch: Mapped[int] = mapped_column(default=0)
    """Bumped when every session of the user must end (password reset, deactivation, a
    change of role or organizations). It is part of every API token's grant fingerprint, so
    a bump ends the user's API tokens too, for good: bump it only for that."""
    practice_address: Mapped[str] = mapped_column(String(300), default="")
    """A dentist's own practice address, where they review (the distant site); empty: the
    organization's address."""
    practice_state: Mapped[str] = mapped_column(String(2), default="")
    notify_by: Mapped[str] = mapped_column(String(8), default="email", server_default="email")
    """How notifications reach this person: email | sms | none (docs/notifications.md)."""
    mobile_phone: Mapped[str | None] = mapped_column(String(32), default=None)
    """PHI for patients: the number text messages go to (E.164, ``+15551234567``)."""
    preferred_language: Mapped[str | None] = mapped_column(String(8), default=None)
    """``en`` or ``es``: the language of the patient pages (and mail) for this login; None:
    the browser's (portal/i18n.py)."""

    organizations: Mapped[list[Organization]] = relationship(
        secondary=user_organization, lazy="selectin", order_by=Organization.name
    )

    @property
    def organization_ids(self) -> set[uuid.UUID]:
        return {org.id for org in self.organizations}
