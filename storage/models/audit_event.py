from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from advanced_alchemy.types import DateTimeUTC, JsonB
from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class AuditEvent(Base):
    """Append-only: who did what to which record, chained per organization ("chain") with
    HMAC-SHA-256 links keyed outside the database (see storage/audit.py)."""

    __tablename__ = "audit_event"
    __table_args__ = (
        UniqueConstraint("chain", "seq", name="uq_audit_event_chain_seq"),
        Index("ix_audit_event_occurred", "occurred_at"),
        Index("ix_audit_event_subject", "subject_type", "subject_id"),
    )

    chain: Mapped[str] = mapped_column(String(40))
    """The organization id, or "global" for events outside any organization."""
    seq: Mapped[int] = mapped_column(BigInteger)
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT"), default=None, index=True
    )
    actor_id: Mapped[uuid.UUID | None] = mapped_column(default=None, index=True)
    actor_role: Mapped[str | None] = mapped_column(String(32), default=None)
    action: Mapped[str] = mapped_column(String(64))
    """``noun.verb``, e.g. ``case.submitted`` (reads of PHI are ``ViewEvent`` rows)."""
    subject_type: Mapped[str | None] = mapped_column(String(40), default=None)
    subject_id: Mapped[str | None] = mapped_column(String(64), default=None)
    client_address: Mapped[str | None] = mapped_column(String(64), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(200), default=None)
    details: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    """Never PHI: ids, codes and counts only."""
    occurred_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    prev_hash: Mapped[str] = mapped_column(String(64))
    """The previous event's ``hash`` (64 zeros for the first)."""
    hash: Mapped[str] = mapped_column(String(64))
    """The event's link: hex HMAC-SHA-256 under the audit key (plain SHA-256 on rows written
    before ``toothline audit rekey``)."""
