"""The records desk (D9961 copies) and closing the loop: referrals and coordination work."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from advanced_alchemy.types import DateTimeUTC, JsonB
from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.models.blob_refs import register_blob_keys


class RecordsRequest(Base):
    """A request for copies of a patient's records, with its whole history."""

    __tablename__ = "records_request"
    __table_args__ = (Index("ix_records_request_org_status", "organization_id", "status"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT")
    )
    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patient.id", ondelete="RESTRICT"), index=True
    )
    requester_type: Mapped[str] = mapped_column(String(16))
    """patient | representative | provider | payer | legal."""
    requester_name: Mapped[str] = mapped_column(String(200), default="")
    """PHI when the requester is the patient or family."""
    requester_contact: Mapped[str] = mapped_column(String(300), default="")
    received_via: Mapped[str] = mapped_column(String(16), default="portal")
    """in_person | phone | letter | portal."""
    received_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    scope: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    """"all", or {"from", "to", "case_ids", "include_originals"}."""
    format: Mapped[str] = mapped_column(String(16))  # electronic | paper | media
    deliver_to: Mapped[str] = mapped_column(String(300), default="")
    """PHI: an address or the requester's portal account."""
    status: Mapped[str] = mapped_column(String(16), default="received")
    """received | verified | fee_quoted | paid | waived | prepared | checked | delivered |
    refused."""
    due_on: Mapped[date] = mapped_column(Date)
    """End of the 30th calendar day after receipt, in the organization's time zone."""
    extended_due_on: Mapped[date | None] = mapped_column(Date, default=None)
    extension_reason: Mapped[str | None] = mapped_column(Text, default=None)
    identity_method: Mapped[str | None] = mapped_column(String(64), default=None)
    identity_document_type: Mapped[str | None] = mapped_column(String(64), default=None)
    authority: Mapped[str | None] = mapped_column(String(200), default=None)
    authorization_document_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    fee_cents: Mapped[int | None] = mapped_column(Integer, default=None)
    fee_basis: Mapped[str | None] = mapped_column(String(200), default=None)
    refused_reason: Mapped[str | None] = mapped_column(Text, default=None)
    package_key: Mapped[str | None] = mapped_column(String(200), default=None)
    package_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    package_size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    prepared_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )
    checked_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )
    history: Mapped[list[dict[str, Any]]] = mapped_column(JsonB, default=list)
    """Every step: {"at", "by", "status", "note"}."""
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )
    id_document_type: Mapped[str | None] = mapped_column(String(32), default=None)
    """The identity document seen (reviewer.records.policy.IdDocumentType); rows verified
    before structured checks keep their free text in ``identity_document_type`` only."""
    id_document_last4: Mapped[str | None] = mapped_column(String(4), default=None)
    """PHI: the last four characters of the document's number (never the whole number)."""
    verified_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )
    """The desk user who checked identity (set by the server)."""
    verified_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
    delivery_method: Mapped[str | None] = mapped_column(String(16), default=None)
    """How the copy was released (reviewer.records.policy.DeliveryMethod)."""


class RecordsDocument(Base):
    """Paper kept with a request: a signed authorization, an ID check note, a letter."""

    __tablename__ = "records_document"

    request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("records_request.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32), default="authorization")
    blob_key: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    expires_on: Mapped[date | None] = mapped_column(Date, default=None)
    scope: Mapped[str] = mapped_column(Text, default="")
    uploaded_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )


class DownloadLink(Base):
    """An expiring, use-limited download link; only the token's hash is kept."""

    __tablename__ = "download_link"

    request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("records_request.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    uses_left: Mapped[int] = mapped_column(Integer)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)


class LedgerEntry(Base):
    """A line on a patient's account that the front desk bills (e.g. D9961 and its fee)."""

    __tablename__ = "ledger_entry"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT")
    )
    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patient.id", ondelete="RESTRICT"), index=True
    )
    code: Mapped[str] = mapped_column(String(8))
    description: Mapped[str] = mapped_column(String(300))
    amount: Mapped[float] = mapped_column(Numeric(10, 2))
    service_date: Mapped[date] = mapped_column(Date)
    source_type: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    billed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)


class Referral(Base):
    """A closed-loop referral from a signed evaluation or an urgent screening."""

    __tablename__ = "referral"
    __table_args__ = (Index("ix_referral_org_status", "organization_id", "status"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT")
    )
    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patient.id", ondelete="RESTRICT"), index=True
    )
    case_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("case.id", ondelete="SET NULL"), default=None, index=True
    )
    screening_event_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("screening_event.id", ondelete="SET NULL"), default=None
    )
    to_provider: Mapped[str] = mapped_column(String(200))
    specialty: Mapped[str] = mapped_column(String(64), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    """PHI."""
    urgency: Mapped[str] = mapped_column(String(16), default="routine")
    status: Mapped[str] = mapped_column(String(24), default="sent")
    """sent | scheduled | seen | report_received | closed | lost_to_follow_up."""
    last_news_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JsonB, default=list)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )


class CoordinationActivity(Base):
    """Logged case-management / care-coordination work on a patient."""

    __tablename__ = "coordination_activity"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT")
    )
    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patient.id", ondelete="RESTRICT"), index=True
    )
    referral_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("referral.id", ondelete="SET NULL"), default=None
    )
    kind: Mapped[str] = mapped_column(String(32))
    """The case-management kind (reviewer/coding/case_management.py)."""
    barrier: Mapped[str] = mapped_column(String(32), default="")
    description: Mapped[str] = mapped_column(Text)
    """PHI: what was done."""
    counterpart: Mapped[str] = mapped_column(String(32), default="")
    """other_provider | family | physician | ..."""
    minutes: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(Text, default="")
    necessity: Mapped[str] = mapped_column(Text, default="")
    performed_on: Mapped[date] = mapped_column(Date)
    performed_by_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="RESTRICT")
    )
    billed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)


register_blob_keys("records/packages/", RecordsRequest.package_key)
register_blob_keys("records/documents/", RecordsDocument.blob_key)
