from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from advanced_alchemy.types import DateTimeUTC, JsonB
from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class ViewEvent(Base):
    """Append-only: one row per read of PHI by a person (a case page, an image, a patient
    record), each with its own HMAC-SHA-256 over its content under a key derived from the
    audit key (see storage/audit.py ``record_view``). No chain and no lock: concurrent views
    never wait on each other; an edited row fails ``toothline audit verify``."""

    __tablename__ = "view_event"
    __table_args__ = (
        Index("ix_view_event_occurred", "occurred_at"),
        Index("ix_view_event_subject", "subject_type", "subject_id"),
    )

    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT"), default=None, index=True
    )
    actor_id: Mapped[uuid.UUID | None] = mapped_column(default=None, index=True)
    actor_role: Mapped[str | None] = mapped_column(String(32), default=None)
    action: Mapped[str] = mapped_column(String(64))
    """``noun.viewed``, e.g. ``attachment.viewed`` (the names the chained trail used)."""
    subject_type: Mapped[str | None] = mapped_column(String(40), default=None)
    subject_id: Mapped[str | None] = mapped_column(String(64), default=None)
    case_id: Mapped[uuid.UUID | None] = mapped_column(default=None, index=True)
    attachment_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    client_address: Mapped[str | None] = mapped_column(String(64), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(200), default=None)
    request_kind: Mapped[str | None] = mapped_column(String(16), default=None)
    """``page``, ``htmx`` or ``api``: how the person asked (None outside a request)."""
    details: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    """Never PHI: ids and codes only (e.g. the image variant)."""
    occurred_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    mac: Mapped[str] = mapped_column(String(64))
    """Hex HMAC-SHA-256 of the row's content under the audit key's view purpose key."""
