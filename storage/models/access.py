"""Credentials besides passwords: invitation/reset links, API tokens, sign-in failures,
dentists' licenses."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Boolean, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class AccessLink(Base):
    """A single-use link (invitation or password reset); only the token's hash is kept."""

    __tablename__ = "access_link"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(16))  # invite | reset
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    used_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )


class ApiToken(Base):
    """A bearer token for the JSON API; only its sha256 is stored. It works until
    ``expires_at``, for what ``scopes`` allow, and only while the owner's grant still
    hashes to ``grant_fingerprint`` (see ``portal/accounts/tokens.py``)."""

    __tablename__ = "api_token"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    scopes: Mapped[str] = mapped_column(String(64))
    """Space-separated, sorted: ``read`` or ``read write``."""
    grant_fingerprint: Mapped[str] = mapped_column(String(64))
    """sha256 of the owner's role, organizations and session epoch when the token was issued;
    any change of them (from any code path) makes the token stop working."""


class LoginFailure(Base):
    """One failed sign-in; counted per account key and per client address in a window."""

    __tablename__ = "login_failure"
    __table_args__ = (
        Index("ix_login_failure_account", "account_key", "created_at"),
        Index("ix_login_failure_address", "client_address", "created_at"),
    )

    account_key: Mapped[str] = mapped_column(String(64))
    """sha256 of the normalized email, so the table holds no address books."""
    client_address: Mapped[str] = mapped_column(String(64))


class License(Base):
    """A dentist's license to practise in one state."""

    __tablename__ = "license"
    __table_args__ = (UniqueConstraint("user_id", "state", name="uq_license_user_state"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(2))
    number: Mapped[str] = mapped_column(String(32))
    expires_on: Mapped[date] = mapped_column(Date)


class PatientInvitation(Base):
    """Staff of one organization invite an email to a patient-role login linked to one of
    their patients. The invitation grants nothing until its owner accepts it: after signing
    in (an existing login), or by setting the first password through the invitation's link
    (only the invitation that created the login may do that). Only the token's hash is kept.
    """

    __tablename__ = "patient_invitation"
    __table_args__ = (Index("ix_patient_invitation_user_status", "user_id", "status"),)

    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patient.id", ondelete="CASCADE"), index=True
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    """The login invited (found or created by its email address)."""
    guardian: Mapped[bool] = mapped_column(Boolean, default=False)
    sets_password: Mapped[bool] = mapped_column(Boolean, default=False)
    """This invitation created the login, so its link may set the login's first password."""
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    """pending | accepted | declined | withdrawn | replaced"""
    decided_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )
