"""What billing works with: payer profiles, live (D9995) sessions, claim packages and the
claim lines of each encounter."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from advanced_alchemy.types import DateTimeUTC, JsonB
from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.models.blob_refs import register_blob_keys


class PayerProfileRecord(Base):
    """A payer's rules as data (reviewer/coding/payer.py ``PayerProfile.as_dict()``)."""

    __tablename__ = "payer_profile"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    """Matched against Patient.payer_name; the organization's default applies otherwise."""
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    rules: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    """1 when created, +1 per edit; every version's rules are kept (PayerProfileVersion)."""


class PayerProfileVersion(Base):
    """One version of a payer profile as it was saved (kept: a claim line coded under it can
    still be read against the rules it was coded under)."""

    __tablename__ = "payer_profile_version"
    __table_args__ = (
        Index("ix_payer_profile_version_number", "payer_profile_id", "version", unique=True),
    )

    payer_profile_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("payer_profile.id", ondelete="CASCADE")
    )
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    rules: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    saved_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )


class FeeScheduleEntry(Base):
    """One code's fee in an organization's fee schedule (``payer_profile_id`` None), or a
    payer profile's override of it. Whole cents: money is never a float."""

    __tablename__ = "fee_schedule_entry"
    __table_args__ = (
        Index("ix_fee_schedule_entry_code", "organization_id", "payer_profile_id", "code",
              unique=True),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE")
    )
    payer_profile_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("payer_profile.id", ondelete="CASCADE"), default=None
    )
    code: Mapped[str] = mapped_column(String(5))
    fee_cents: Mapped[int] = mapped_column(Integer)


class LiveSession(Base):
    """A synchronous (D9995) encounter: a different thing from a case review."""

    __tablename__ = "live_session"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT"), index=True
    )
    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patient.id", ondelete="RESTRICT"), index=True
    )
    case_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("case.id", ondelete="SET NULL"), default=None, index=True
    )
    dentist_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="RESTRICT")
    )
    scheduled_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    started_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    ended_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    participants: Mapped[list[dict[str, Any]]] = mapped_column(JsonB, default=list)
    """PHI: who took part (names, roles)."""
    platform: Mapped[str] = mapped_column(String(100))
    notes: Mapped[str] = mapped_column(Text, default="")
    """PHI."""
    evaluation: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    """PHI: the evaluation done live (findings, diagnosis, advice)."""
    patient_site: Mapped[str] = mapped_column(String(16), default="home")
    """Where the patient was (home | school | office | other), as the dentist recorded it;
    empty when not recorded (a linked case's site is never taken)."""
    patient_state: Mapped[str] = mapped_column(String(2), default="")
    """The state the patient was in during the session: what the license check uses."""
    created_by_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="RESTRICT")
    )
    signed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
    """When the dentist signed the session record (None: unsigned, not billable)."""
    signed_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="RESTRICT"), default=None
    )
    attestation: Mapped[str | None] = mapped_column(Text, default=None)
    content_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    """The hash the signature covers (the documented content, who signed, when)."""


class EncounterBilling(Base):
    """The claim lines of one encounter (a case review or a live session) as billing
    staff edit them, and where billing stands."""

    __tablename__ = "encounter_billing"
    __table_args__ = (Index("ix_encounter_billing_org_status", "organization_id", "status"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT")
    )
    case_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("case.id", ondelete="CASCADE"), default=None, unique=True
    )
    live_session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("live_session.id", ondelete="CASCADE"), default=None, unique=True
    )
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JsonB, default=list)
    status: Mapped[str] = mapped_column(String(16), default="proposed")
    """proposed | ready | billed | nothing_to_bill."""
    edited_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )
    ready_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
    corrections: Mapped[list[dict[str, Any]]] = mapped_column(JsonB, default=list)
    """Every change of the lines after signing: ``{"at", "by_id", "by", "reason", "before",
    "after"}`` (the lines before and after). The package prints them as "claim lines
    corrected" below the signed record."""
    overrides: Mapped[list[dict[str, Any]]] = mapped_column(JsonB, default=list)
    """Billing's recorded exceptions to a cross-encounter rule: ``{"rule", "reason", "at",
    "by_id", "by"}`` (:mod:`reviewer.billing.same_day`)."""
    billed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
    billed_package_version: Mapped[int | None] = mapped_column(Integer, default=None)
    """The claim package version the encounter was billed with (kept: a later version made by
    an addendum or a correction does not change what was sent)."""
    billed_attachment_control_number: Mapped[str | None] = mapped_column(String(40),
                                                                        default=None)
    payer_profile_name: Mapped[str | None] = mapped_column(String(200), default=None)
    payer_profile_version: Mapped[int | None] = mapped_column(Integer, default=None)
    """The stored payer profile (name, version) the lines were coded under, set when the lines
    are proposed and when they are edited; None under the built-in default profile."""


class ClaimPackage(Base):
    """Generated documentation PDF + claim-attachment ZIP; immutable, versioned per
    encounter (a signed addendum makes a new version, the old is kept)."""

    __tablename__ = "claim_package"
    __table_args__ = (
        # Unique: two downloads at the same moment cannot both create the same version.
        Index("ix_claim_package_case", "case_id", "version", unique=True),
        Index("ix_claim_package_live", "live_session_id", "version", unique=True),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT")
    )
    case_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("case.id", ondelete="RESTRICT"), default=None
    )
    live_session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("live_session.id", ondelete="RESTRICT"), default=None
    )
    encounter_type: Mapped[str] = mapped_column(String(16))  # asynchronous | synchronous
    version: Mapped[int] = mapped_column(Integer)
    attachment_control_number: Mapped[str] = mapped_column(String(40))
    pdf_key: Mapped[str] = mapped_column(String(200))
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    zip_key: Mapped[str | None] = mapped_column(String(200), default=None)
    zip_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    zip_size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JsonB, default=list)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )


register_blob_keys("claim-packages/", ClaimPackage.pdf_key, ClaimPackage.zip_key)
